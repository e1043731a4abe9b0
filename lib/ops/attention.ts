/**
 * Fused (flash-style) scaled-dot-product attention with its backward rule: one native call each way,
 * no [Tq, Tk] matrix in memory. q [B, H, Tq, D], k and v [B, Hkv, Tk, D] with H a multiple of Hkv
 * (grouped-query attention: query head h reads key/value head h / (H / Hkv)); Tq <= Tk, and query i sits
 * at absolute position Tk - Tq + i (the last Tq positions, as with a KV cache).
 *
 * attention() and fusedAttention() check the JS-level options
 * once with readAttentionOptions; attentionKernel checks nothing more; the native op checks shapes, dtypes
 * and devices (and that there is one ALiBi slope per query head).
 */
import { attach, needsGrad, save } from '../autograd/record.js';
import type { DType } from '../dtype.js';
import { ArgumentTypeError, ValueError } from '../errors.js';
import { native, type NativeHandle } from '../native.js';
import type { Tensor } from '../tensor.js';
import type { RopeArgs } from './rope.js';
import { checkInt, checkOptions, describe, liveTensor, oneOf, viaFloat32, wrap } from './util.js';

/** How positions enter attention; 'rope' is applied to q and k before the op (see rope()). */
export type AttentionPosition = 'rope' | 'alibi' | 'none';
export const ATTENTION_POSITIONS: readonly AttentionPosition[] = ['rope', 'alibi', 'none'];

/** The defaults of attention() and fusedAttention(); the scale's is 1/sqrt(D). */
export const ATTENTION_DEFAULTS = Object.freeze({ position: 'none' as AttentionPosition, causal: true });

export interface FusedAttentionOptions {
  /** Mask keys after each query's position (default true). */
  causal?: boolean;
  /** Multiplies <q, k> (default 1 / sqrt(D)). */
  scale?: number;
  /** ALiBi: one slope m_h per query head; the score gets -m_h * (pos_q - pos_k). Null or absent: none. */
  alibiSlopes?: readonly number[] | null;
  /** Packed documents: int32 [B, Tk]; a query attends only to keys of its own document id. */
  docIds?: Tensor<'int32'> | null;
}

export interface AttentionArgs {
  causal: boolean;
  scale: number;
  /** null: no ALiBi. */
  slopes: number[] | null;
  docIds: Tensor<'int32'> | null;
}

/** causal, scale, alibiSlopes and docIds with their defaults; q gives D for the default scale. */
export function readAttentionOptions(op: string, q: Tensor, opts: FusedAttentionOptions | undefined, keys: readonly string[]): AttentionArgs {
  checkOptions(op, opts, keys);
  const causal = opts?.causal ?? ATTENTION_DEFAULTS.causal;
  if (typeof causal !== 'boolean') throw new ArgumentTypeError(op, `causal must be a boolean, got ${describe(causal)}`);
  const scale = opts?.scale ?? 1 / Math.sqrt(q.shape[q.ndim - 1] ?? 1);
  if (typeof scale !== 'number') throw new ArgumentTypeError(op, `scale must be a number, got ${describe(scale)}`);
  if (!Number.isFinite(scale)) throw new ValueError(op, `scale must be a finite number, got ${scale}`);
  const slopesIn = opts?.alibiSlopes ?? null;
  let slopes: number[] | null = null;
  if (slopesIn !== null) {
    if (!Array.isArray(slopesIn)) throw new ArgumentTypeError(op, `alibiSlopes must be an array of numbers or null, got ${describe(slopesIn)}`);
    slopes = slopesIn.map((s, i) => {
      if (typeof s !== 'number' || !Number.isFinite(s)) throw new ValueError(op, `alibiSlopes[${i}] must be a finite number, got ${describe(s)}`);
      return s;
    });
  }
  const docIds = opts?.docIds ?? null;
  if (docIds !== null) liveTensor(op, 'docIds', docIds);
  return { causal, scale, slopes, docIds };
}

/** The fused kernel with its backward rule; the output has q's shape and dtype. */
export function attentionKernel<D extends DType>(q: Tensor<D>, k: Tensor<D>, v: Tensor<D>, a: AttentionArgs): Tensor<D> {
  const { causal, scale, slopes, docIds } = a;
  const [outH, lseH] = native.attentionForward(q.handle, k.handle, v.handle, causal, scale, slopes, docIds?.handle ?? null);
  const out = wrap<D>(outH);
  const lse = wrap(lseH);
  if (!needsGrad(q, k, v)) {
    lse.dispose();
    return out;
  }
  const sq = save(q), sk = save(k), sv = save(v), so = save(out), sl = save(lse);
  lse.dispose();
  const sd = docIds ? save(docIds) : null;
  const saved: Tensor[] = [sq, sk, sv, so, sl];
  if (sd) saved.push(sd);
  return attach('attention', out, [q, k, v], (g) => {
    const [dq, dk, dv] = native.attentionBackward(g.handle, sq.handle, sk.handle, sv.handle, so.handle, sl.handle, causal, scale, slopes, sd?.handle ?? null);
    return [wrap<D>(dq!), wrap<D>(dk!), wrap<D>(dv!)];
  }, saved);
}

/**
 * Attention straight from a fused q/k/v projection, without copies: qkv [B, T, (H + 2 Hkv) * D] holds each
 * token's H query heads, then Hkv key heads, then Hkv value heads; returns y [B, T, H * D] (the heads
 * concatenated per token, the output projection's input). q, k and v are strided views of qkv (RoPE, when
 * given, rotates q and k in one pass into a [B, H + Hkv, T, D] buffer); the kernel writes y in token-major
 * layout (it follows v's), and the backward writes dq, dk and dv into one [B, T, (H + 2 Hkv) * D] gradient (RoPE's
 * inverse rotation in place on it). Self-attention only (Tq = Tk, position offset rope.offset); the caller
 * (CausalSelfAttention) checked the shapes, H a multiple of Hkv and the dtype (the native ops check again).
 * The same arithmetic as attention(rope(q), rope(k), v) on the split heads.
 */
export function qkvAttentionKernel<D extends DType>(qkv: Tensor<D>, H: number, Hkv: number, rope: RopeArgs | null, a: AttentionArgs): Tensor<D> {
  const [B, T, W] = qkv.shape as [number, number, number];
  const Dh = W / (H + 2 * Hkv);
  const { causal, scale, slopes, docIds } = a;
  const temps: NativeHandle[] = [];
  const tmp = (h: NativeHandle): NativeHandle => (temps.push(h), h);
  // heads [first, first + n) of a [B, T, heads, Dh] handle as a [B, n, T, Dh] view
  const heads = (src: NativeHandle, first: number, n: number): NativeHandle =>
    tmp(native.permute(tmp(native.slice(src, 2, first, first + n, 1)), [0, 2, 1, 3]));
  const rotate = (x: NativeHandle, inverse: boolean, inPlace: boolean): NativeHandle =>
    native.rope(x, rope!.base, rope!.pairing, rope!.offset, rope!.rotaryDims, inverse, inPlace);
  // q, k and v views: of qkv4 ([B, T, H + 2 Hkv, Dh]), q and k of qk ([B, H + Hkv, T, Dh]) with RoPE.
  const views = (qkv4: NativeHandle, qk: NativeHandle | null): [NativeHandle, NativeHandle, NativeHandle] => [
    qk ? tmp(native.slice(qk, 1, 0, H, 1)) : heads(qkv4, 0, H),
    qk ? tmp(native.slice(qk, 1, H, H + Hkv, 1)) : heads(qkv4, H, Hkv),
    heads(qkv4, H + Hkv, Hkv),
  ];
  let y: Tensor<D>, lse: Tensor, qk: Tensor | null = null;
  try {
    const qkv4 = tmp(native.reshape(qkv.handle, [B, T, H + 2 * Hkv, Dh]));
    if (rope) qk = wrap(rotate(heads(qkv4, 0, H + Hkv), false, false));
    const [q, k, v] = views(qkv4, qk?.handle ?? null);
    const [outH, lseH] = native.attentionForward(q, k, v, causal, scale, slopes, docIds?.handle ?? null);
    lse = wrap(lseH);
    // out is [B, H, T, Dh] over a [B, T, H, Dh] buffer: the [B, T, H * Dh] view needs no copy.
    y = wrap<D>(native.reshape(tmp(native.permute(tmp(outH), [0, 2, 1, 3])), [B, T, H * Dh]));
  } finally {
    for (const h of temps.splice(0)) h.dispose();
  }
  if (!needsGrad(qkv)) {
    lse.dispose();
    qk?.dispose();
    return y;
  }
  // qkv, y, lse and qk are contiguous: save() aliases them.
  const sx = save(qkv), sy = save(y), sl = save(lse);
  const sqk = qk ? save(qk) : null;
  lse.dispose();
  qk?.dispose();
  const sd = docIds ? save(docIds) : null;
  const saved: Tensor[] = [sx, sy, sl];
  if (sqk) saved.push(sqk);
  if (sd) saved.push(sd);
  return attach('attention', y, [qkv], (g) => {
    try {
      const qkv4 = tmp(native.reshape(sx.handle, [B, T, H + 2 * Hkv, Dh]));
      const [q, k, v] = views(qkv4, sqk?.handle ?? null);
      const g4 = tmp(native.permute(tmp(native.reshape(g.handle, [B, T, H, Dh])), [0, 2, 1, 3]));
      const o4 = tmp(native.permute(tmp(native.reshape(sy.handle, [B, T, H, Dh])), [0, 2, 1, 3]));
      const dqkv = tmp(native.attentionBackward(g4, q, k, v, o4, sl.handle, causal, scale, slopes, sd?.handle ?? null, true)[0]!);
      if (rope) tmp(rotate(heads(dqkv, 0, H + Hkv), true, true));
      return [wrap<D>(native.reshape(dqkv, [B, T, W]))];
    } finally {
      for (const h of temps.splice(0)) h.dispose();
    }
  }, saved);
}

/**
 * Attention output [B, H, Tq, D] in q's dtype (float32, bfloat16 or float64 on the CPU; float32, bfloat16
 * or float16 on CUDA): attention() with ALiBi given as slopes, in the kernel's own dtypes only (attention()
 * runs float16 in float32).
 */
export function fusedAttention<D extends DType>(q: Tensor<D>, k: Tensor<D>, v: Tensor<D>, opts?: FusedAttentionOptions): Tensor<D> {
  const op = 'attention';
  liveTensor(op, 'q', q);
  liveTensor(op, 'k', k);
  liveTensor(op, 'v', v);
  return attentionKernel(q, k, v, readAttentionOptions(op, q, opts, ['causal', 'scale', 'alibiSlopes', 'docIds']));
}

// ---- ALiBi ----

/**
 * ALiBi head slopes (Press et al., 2022). For n a power of two, m_h = 2^(-8h/n) for h = 1..n. Otherwise
 * the slopes of the largest power of two c below n, followed by every other slope of the list for 2c
 * (the 1st, 3rd, ...) until there are n: the reference implementation's rule, which keeps the slopes a
 * geometric-like sequence for any head count.
 */
export function alibiSlopes(nHeads: number): number[] {
  checkInt('alibiSlopes', 'nHeads', nHeads);
  if (nHeads < 1) throw new ValueError('alibiSlopes', `nHeads must be at least 1, got ${nHeads}`);
  const pow2 = (n: number): number[] => Array.from({ length: n }, (_, i) => 2 ** ((-8 * (i + 1)) / n));
  const c = 2 ** Math.floor(Math.log2(nHeads));
  if (c === nHeads) return pow2(nHeads);
  const extra = pow2(2 * c).filter((_, i) => i % 2 === 0).slice(0, nHeads - c);
  return [...pow2(c), ...extra];
}

// ---- attention() ----

export interface AttentionOptions {
  /**
   * How positions enter the scores. 'alibi' adds -m_h·(i - j) to the score of query i and key j.
   * 'rope' and 'none' add nothing here: RoPE rotates q and k before attention (see rope()), which is
   * what lets a KV cache store keys already rotated. The option is still named so that a fused kernel
   * knows the whole recipe. Default 'none'.
   */
  position?: AttentionPosition;
  /** Query i sees keys j <= its position only (default true). */
  causal?: boolean;
  /** One slope per query head for 'alibi' (default alibiSlopes(H)). */
  alibiSlopes?: readonly number[];
  /** Multiplies q·k (default 1/sqrt(D)). */
  scale?: number;
  /** Packed documents: int32 [B, Tk] document ids; a query attends only to keys of its own document. */
  docIds?: Tensor<'int32'> | null;
}

/**
 * Scaled dot-product attention, softmax(q·kᵀ·scale + bias)·v.
 * q is [B, H, Tq, D]; k and v are [B, Hkv, Tk, D] with H a multiple of Hkv (grouped-query attention:
 * query head h reads key/value head floor(h / (H / Hkv))). The queries are the last Tq <= Tk positions
 * of the Tk keys (a KV cache during generation): query i sits at position Tk - Tq + i for the causal
 * mask and the ALiBi distance. Returns [B, H, Tq, D].
 */
export function attention<D extends DType>(q: Tensor<D>, k: Tensor<D>, v: Tensor<D>, opts?: AttentionOptions): Tensor<D> {
  const op = 'attention';
  liveTensor(op, 'q', q);
  liveTensor(op, 'k', k);
  liveTensor(op, 'v', v);
  const a = readAttentionOptions(op, q, opts, ['position', 'causal', 'alibiSlopes', 'scale', 'docIds']);
  const position = oneOf(op, 'position', opts?.position ?? ATTENTION_DEFAULTS.position, ATTENTION_POSITIONS);
  if (position === 'alibi') {
    if (!a.causal) throw new ValueError(op, "position 'alibi' is defined for causal attention only (causal: false given)");
    // The head count for the default slopes; a q of the wrong rank is the native op's to report.
    a.slopes ??= q.ndim === 4 ? alibiSlopes(q.shape[1]!) : [];
  } else if (a.slopes !== null) {
    throw new ValueError(op, `alibiSlopes is only used with position 'alibi', got position '${position}'`);
  }
  return viaFloat32<D>([q, k, v], ([q, k, v]) => attentionKernel(q!, k!, v!, a));
}
