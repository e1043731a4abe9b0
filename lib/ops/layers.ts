/**
 * Layer ops: one functional entry point per transformer layer op (attention, RoPE, ALiBi slopes,
 * activations, gated activations, layer and RMS norms, dropout).
 *
 * Each op validates here, then runs the fused native kernel of its family (lib/ops/layers_fused.ts,
 * lib/ops/attention_fused.ts) for float32, bfloat16 and float64. The composed versions (built from the
 * other families' differentiable ops) remain for float16, which the fused kernels do not take; they run
 * inside tidy(), so their intermediates are freed on return (the graph keeps what backward needs).
 */
import type { DType, FloatDType } from '../dtype.js';
import { isFloatDType } from '../dtype.js';
import { DisposedError, DTypeError, ShapeError, ValueError } from '../errors.js';
import { keep, tidy, withoutScope } from '../memory.js';
import type { Tensor } from '../tensor.js';
import { rand, tensor } from './creation.js';
import { add, mul } from './elementwise.js';
import { matmul } from './matmul.js';
import { softmax } from './softmax.js';
import { fusedAttention } from './attention_fused.js';
import { activationKernel, fusedLayerNorm, fusedRmsNorm, fusedRope } from './layers_fused.js';
import { cat } from './views.js';
import { checkInt, checkNumber, checkOptions, checkTensor } from './util.js';

// ---- shared checks ----

function checkFloat(op: string, name: string, t: Tensor): void {
  if (t.isDisposed) throw new DisposedError(op, `${name} is a disposed tensor`);
  if (!isFloatDType(t.dtype)) throw new DTypeError(op, `${name} must be a floating-point tensor, got ${t.dtype}`);
}

function fmt(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function oneOf<T extends string>(op: string, name: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v))
    throw new ValueError(op, `unknown ${name} ${JSON.stringify(v)} (expected one of: ${allowed.join(', ')})`);
  return v as T;
}

// ---- constant tables (RoPE angles, attention masks) ----
// Tables depend only on sizes and options, so recent ones are cached: a training step asks for the same
// mask in every layer, and rebuilding it in JS each time would cost as much as the op. The cache is small
// and least-recently-used, because generation asks for a new shape at every step. Cached tensors are
// created outside every tidy() scope and kept; an evicted one is disposed (a graph that used it holds its
// own alias, so this never frees anything backward needs).

const TABLE_CACHE_SIZE = 16;
const tables = new Map<string, Tensor[]>();

function cachedTables(key: string, build: () => Tensor[]): Tensor[] {
  const hit = tables.get(key);
  if (hit && hit.every((t) => !t.isDisposed)) {
    tables.delete(key);
    tables.set(key, hit); // most recent last
    return hit;
  }
  const made = withoutScope(build).map((t) => keep(t));
  tables.set(key, made);
  while (tables.size > TABLE_CACHE_SIZE) {
    const oldest = tables.keys().next().value as string;
    for (const t of tables.get(oldest)!) t.dispose();
    tables.delete(oldest);
  }
  return made;
}

/** Float64 host data to a tensor of the given float dtype and device. */
function hostTable<D extends DType>(data: Float64Array, shape: number[], like: Tensor<D>): Tensor<D> {
  const dtype = like.dtype as FloatDType;
  if (dtype === 'float64') return tensor(data, shape, 'float64', like.device) as unknown as Tensor<D>;
  return tensor(Float32Array.from(data), shape, dtype, like.device) as unknown as Tensor<D>;
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

// ---- attention ----

export type AttentionPosition = 'rope' | 'alibi' | 'none';
const POSITIONS: readonly AttentionPosition[] = ['rope', 'alibi', 'none'];

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
  /**
   * Packed documents: int32 [B, Tk] document ids; a query attends only to keys of its own document.
   * Needs the fused kernel (float32, bfloat16, float64).
   */
  docIds?: Tensor<'int32'> | null;
}

/**
 * Scaled dot-product attention, softmax(q·kᵀ·scale + bias)·v.
 * q is [B, H, Tq, D]; k and v are [B, Hkv, Tk, D] with H a multiple of Hkv (grouped-query attention:
 * query head h reads key/value head floor(h / (H / Hkv))). When Tq < Tk the queries are the last Tq
 * positions of the Tk keys (a KV cache during generation): query i sits at position Tk - Tq + i for the
 * causal mask and the ALiBi distance. Returns [B, H, Tq, D].
 */
export function attention<D extends DType>(q: Tensor<D>, k: Tensor<D>, v: Tensor<D>, opts?: AttentionOptions): Tensor<D> {
  const op = 'attention';
  checkTensor(op, 'q', q);
  checkTensor(op, 'k', k);
  checkTensor(op, 'v', v);
  checkOptions(op, opts, ['position', 'causal', 'alibiSlopes', 'scale', 'docIds']);
  checkFloat(op, 'q', q);
  checkFloat(op, 'k', k);
  checkFloat(op, 'v', v);
  if (k.dtype !== q.dtype || v.dtype !== q.dtype) throw new DTypeError(op, `q, k and v must share a dtype, got ${q.dtype}, ${k.dtype}, ${v.dtype}`);
  if (q.ndim !== 4 || k.ndim !== 4 || v.ndim !== 4)
    throw new ShapeError(op, `q must be [B, H, Tq, D] and k, v [B, Hkv, Tk, D], got ${fmt(q.shape)}, ${fmt(k.shape)}, ${fmt(v.shape)}`);
  const [B, H, Tq, D] = q.shape as [number, number, number, number];
  const [Bk, Hkv, Tk, Dk] = k.shape as [number, number, number, number];
  if (Bk !== B || Dk !== D || v.shape.some((s, i) => s !== k.shape[i]))
    throw new ShapeError(op, `q ${fmt(q.shape)}, k ${fmt(k.shape)} and v ${fmt(v.shape)} disagree (k and v must be [${B}, Hkv, Tk, ${D}] alike)`);
  if (Hkv === 0 || H % Hkv !== 0) throw new ShapeError(op, `query heads ${H} must be a multiple of key/value heads ${Hkv}`);
  const position = oneOf(op, 'position', opts?.position ?? 'none', POSITIONS);
  const causal = opts?.causal ?? true;
  if (typeof causal !== 'boolean') throw new ValueError(op, `causal must be a boolean, got ${JSON.stringify(causal)}`);
  if (causal && Tq > Tk) throw new ShapeError(op, `causal attention needs at most as many queries as keys, got Tq ${Tq} > Tk ${Tk}`);
  if (position === 'alibi' && !causal) throw new ValueError(op, "position 'alibi' is defined for causal attention only (causal: false given)");
  const scale = opts?.scale ?? 1 / Math.sqrt(D);
  checkNumber(op, 'scale', scale);
  if (!Number.isFinite(scale)) throw new ValueError(op, `scale must be finite, got ${scale}`);
  let slopes: readonly number[] = [];
  if (position === 'alibi') {
    slopes = opts?.alibiSlopes ?? alibiSlopes(H);
    if (!Array.isArray(slopes) || slopes.length !== H || slopes.some((m) => typeof m !== 'number' || !Number.isFinite(m)))
      throw new ValueError(op, `alibiSlopes must hold ${H} finite numbers (one per query head), got ${Array.isArray(slopes) ? slopes.length + ' entries' : typeof slopes}`);
  } else if (opts?.alibiSlopes !== undefined) {
    throw new ValueError(op, `alibiSlopes is only used with position 'alibi', got position '${position}'`);
  }
  const docIds = opts?.docIds ?? null;
  if (fused(q)) return fusedAttention(q, k, v, { causal, scale, alibiSlopes: position === 'alibi' ? slopes : null, docIds });
  if (docIds) throw new DTypeError(op, `docIds needs the fused kernel, which takes float32, bfloat16 or float64 (got ${q.dtype})`);
  const g = H / Hkv;
  return tidy(() => {
    // The g query heads that share a key/value head become extra rows of one product: [B, Hkv, g·Tq, D].
    // Scaling q first touches Tq·D numbers rather than Tq·Tk.
    const qg = q.mul(scale).reshape([B, Hkv, g * Tq, D]);
    let scores = matmul(qg, k.transpose(-2, -1)).reshape([B, H, Tq, Tk]);
    const bias = scoreBias(q, H, Tq, Tk, causal, position === 'alibi' ? slopes : null);
    if (bias) scores = add(scores, bias);
    const probs = softmax(scores, -1).reshape([B, Hkv, g * Tq, Tk]);
    return matmul(probs, v).reshape([B, H, Tq, D]);
  });
}

// The additive score bias: -m_h·(i - j) for ALiBi ([H, Tq, Tk]) and -inf above the causal diagonal
// ([Tq, Tk] without ALiBi); null when there is nothing to add. Built on the host; never recorded.
function scoreBias<D extends DType>(like: Tensor<D>, H: number, Tq: number, Tk: number, causal: boolean, slopes: readonly number[] | null): Tensor<D> | null {
  if (!causal && !slopes) return null;
  const key = `bias|${like.dtype}|${like.device}|${Tq}|${Tk}|${causal}|${slopes ? slopes.join(',') : '-'}`;
  return cachedTables(key, () => {
    const heads = slopes ? H : 1;
    const data = new Float64Array(heads * Tq * Tk);
    const first = Tk - Tq; // position of query 0
    for (let h = 0; h < heads; h++) {
      const m = slopes ? slopes[h]! : 0;
      for (let i = 0; i < Tq; i++) {
        const pos = first + i;
        const row = (h * Tq + i) * Tk;
        for (let j = 0; j < Tk; j++) data[row + j] = causal && j > pos ? -Infinity : -m * (pos - j);
      }
    }
    return [hostTable(data, slopes ? [H, Tq, Tk] : [Tq, Tk], like)];
  })[0] as Tensor<D>;
}

// ---- RoPE ----

export type RopePairing = 'half' | 'interleaved';
const PAIRINGS: readonly RopePairing[] = ['half', 'interleaved'];

export interface RopeOptions {
  /** θ_i = base^(-2i/D) (default 10000). */
  base?: number;
  /** 'half' rotates (i, i + D/2), GPT-NeoX's convention (default); 'interleaved' rotates (2i, 2i+1), GPT-J's and Meta's. */
  pairing?: RopePairing;
  /** Position of the first row (default 0): the number of cached positions before x during generation. */
  offset?: number;
}

/**
 * Rotary position embedding (Su et al., 2021) on x [..., T, D] (usually [B, H, T, D]): the pair
 * (x_a, x_b) of row t becomes (x_a·cos φ - x_b·sin φ, x_a·sin φ + x_b·cos φ) with φ = (offset + t)·θ_i,
 * θ_i = base^(-2i/D), for i = 0 .. D/2 - 1. D must be even.
 */
export function rope<D extends DType>(x: Tensor<D>, opts?: RopeOptions): Tensor<D> {
  const op = 'rope';
  checkTensor(op, 'x', x);
  checkOptions(op, opts, ['base', 'pairing', 'offset']);
  checkFloat(op, 'x', x);
  if (x.ndim < 2) throw new ShapeError(op, `x must be [..., T, D], got ${fmt(x.shape)}`);
  const T = x.shape[x.ndim - 2]!, Dm = x.shape[x.ndim - 1]!;
  if (Dm % 2 !== 0) throw new ShapeError(op, `the head dimension must be even to form pairs, got D = ${Dm}`);
  const base = opts?.base ?? 10000;
  checkNumber(op, 'base', base);
  if (!(base > 0) || !Number.isFinite(base)) throw new ValueError(op, `base must be a positive finite number, got ${base}`);
  const pairing = oneOf(op, 'pairing', opts?.pairing ?? 'half', PAIRINGS);
  const offset = opts?.offset ?? 0;
  checkInt(op, 'offset', offset);
  if (offset < 0) throw new ValueError(op, `offset must be non-negative, got ${offset}`);
  if (fused(x)) {
    // The kernel takes [B, H, T, D]: fold any other leading dims into B.
    if (x.ndim === 4) return fusedRope(x, { base, pairing, offset });
    return tidy(() => fusedRope(x.reshape(-1, 1, T, Dm), { base, pairing, offset }).reshape(x.shape));
  }
  const half = Dm / 2;
  // out = x·cosTable + partner(x)·sinTable, where partner(x) swaps each pair's members and sinTable
  // carries the sign: -sin at the first member of a pair, +sin at the second.
  const [cosT, sinT] = cachedTables(`rope|${x.dtype}|${x.device}|${T}|${Dm}|${base}|${pairing}|${offset}`, () => {
    const c = new Float64Array(T * Dm), s = new Float64Array(T * Dm);
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < half; i++) {
        const phi = (offset + t) * base ** ((-2 * i) / Dm);
        const [a, b] = pairing === 'half' ? [i, i + half] : [2 * i, 2 * i + 1];
        c[t * Dm + a] = c[t * Dm + b] = Math.cos(phi);
        s[t * Dm + a] = -Math.sin(phi);
        s[t * Dm + b] = Math.sin(phi);
      }
    }
    return [hostTable(c, [T, Dm], x), hostTable(s, [T, Dm], x)];
  }) as [Tensor<D>, Tensor<D>];
  return tidy(() => {
    let partner: Tensor<D>;
    if (pairing === 'half') {
      partner = cat([x.slice(-1, half), x.slice(-1, 0, half)], -1);
    } else {
      const pairs = x.reshape([...x.shape.slice(0, -1), half, 2]);
      partner = cat([pairs.slice(-1, 1, 2), pairs.slice(-1, 0, 1)], -1).reshape(x.shape);
    }
    return add(mul(x, cosT), mul(partner, sinT));
  });
}

// ---- activations ----

export type ActivationKind = 'relu' | 'gelu' | 'swish';
export type GatedKind = 'glu' | 'geglu' | 'swiglu' | 'reglu';
export const ACTIVATIONS: readonly ActivationKind[] = ['relu', 'gelu', 'swish'];
export const GATED_ACTIVATIONS: readonly GatedKind[] = ['glu', 'geglu', 'swiglu', 'reglu'];

// Composed bodies without checks or tidy, shared by activation() and gatedActivation().
function act<D extends DType>(x: Tensor<D>, kind: ActivationKind | 'sigmoid'): Tensor<D> {
  switch (kind) {
    case 'relu':
      return x.relu();
    case 'gelu':
      // The exact GELU, x·Φ(x) = x/2·(1 + erf(x/√2)), not the tanh approximation.
      return x.mul(0.5).mul(x.mul(Math.SQRT1_2).erf().add(1));
    case 'swish':
      // Swish with β = 1 (SiLU): x·σ(x).
      return x.mul(x.sigmoid());
    case 'sigmoid':
      return x.sigmoid();
  }
}

/** relu, gelu (exact, with erf) or swish (x·sigmoid(x), also called SiLU), elementwise. */
export function activation<D extends DType>(x: Tensor<D>, kind: ActivationKind): Tensor<D> {
  checkTensor('activation', 'x', x);
  checkFloat('activation', 'x', x);
  const k = oneOf('activation', 'kind', kind, ACTIVATIONS);
  if (fused(x)) return activationKernel('activation', x, FUSED_ACT[k]);
  return tidy(() => act(x, k));
}

// The fused kernels' names: lmforge's 'gelu' is the exact (erf) form.
const FUSED_ACT = { relu: 'relu', gelu: 'gelu_erf', swish: 'silu' } as const;

// The fused kernels take float32, bfloat16 and float64; float16 runs the composed ops.
function fused(x: Tensor): boolean {
  return x.dtype !== 'float16';
}

const GATE_ACT: Record<GatedKind, ActivationKind | 'sigmoid'> = { glu: 'sigmoid', geglu: 'gelu', swiglu: 'swish', reglu: 'relu' };

/**
 * Gated linear units (Dauphin et al. 2017; Shazeer 2020): x [..., 2h] is split into halves [gate, value]
 * and the result [..., h] is act(gate) · value, with act = sigmoid (glu), gelu (geglu), swish (swiglu)
 * or relu (reglu). The FIRST half goes through the activation, as in the GLU-variants paper's
 * act(xW) ⊗ xV and LLaMA's act(gate_proj) · up_proj. (PyTorch's F.glu gates the other way round.)
 */
export function gatedActivation<D extends DType>(x: Tensor<D>, kind: GatedKind): Tensor<D> {
  const op = 'gatedActivation';
  checkTensor(op, 'x', x);
  checkFloat(op, 'x', x);
  const k = oneOf(op, 'kind', kind, GATED_ACTIVATIONS);
  const n = x.ndim === 0 ? 0 : x.shape[x.ndim - 1]!;
  if (x.ndim === 0 || n % 2 !== 0) throw new ShapeError(op, `the last dimension must be even (2h: gate and value halves), got shape ${fmt(x.shape)}`);
  if (fused(x)) return activationKernel(op, x, k);
  return tidy(() => act(x.slice(-1, 0, n / 2), GATE_ACT[k]).mul(x.slice(-1, n / 2)));
}

// ---- norms ----

function checkNormArgs(op: string, x: Tensor, weight: Tensor, bias: Tensor | null | undefined, eps: number): void {
  checkTensor(op, 'x', x);
  checkTensor(op, 'weight', weight);
  if (bias !== undefined && bias !== null) checkTensor(op, 'bias', bias);
  checkFloat(op, 'x', x);
  const C = x.ndim === 0 ? 0 : x.shape[x.ndim - 1]!;
  if (x.ndim === 0) throw new ShapeError(op, 'x must have at least one dimension');
  for (const [name, t] of [['weight', weight], ['bias', bias]] as const) {
    if (!t) continue;
    if (t.dtype !== x.dtype) throw new DTypeError(op, `${name} is ${t.dtype} but x is ${x.dtype}`);
    if (t.ndim !== 1 || t.shape[0] !== C) throw new ShapeError(op, `${name} must be [${C}] for x ${fmt(x.shape)}, got ${fmt(t.shape)}`);
  }
  checkNumber(op, 'eps', eps);
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new ValueError(op, `eps must be a non-negative finite number, got ${eps}`);
}

/** Layer norm over the last dimension (Ba et al., 2016): (x - mean) / sqrt(var + eps) · weight + bias, biased variance. */
export function layerNorm<D extends DType>(x: Tensor<D>, weight: Tensor<D>, bias?: Tensor<D> | null, eps = 1e-5): Tensor<D> {
  checkNormArgs('layerNorm', x, weight, bias, eps);
  if (fused(x)) return fusedLayerNorm(x, weight, bias ?? null, { eps });
  return tidy(() => {
    const centred = x.sub(x.mean(-1, true));
    const y = centred.mul(centred.square().mean(-1, true).add(eps).rsqrt()).mul(weight);
    return bias ? y.add(bias) : y;
  });
}

/** RMS norm over the last dimension (Zhang & Sennrich, 2019): x / sqrt(mean(x²) + eps) · weight. */
export function rmsNorm<D extends DType>(x: Tensor<D>, weight: Tensor<D>, eps = 1e-6): Tensor<D> {
  checkNormArgs('rmsNorm', x, weight, null, eps);
  if (fused(x)) return fusedRmsNorm(x, weight, { eps });
  return tidy(() => x.mul(x.square().mean(-1, true).add(eps).rsqrt()).mul(weight));
}

// ---- dropout ----

/**
 * Inverted dropout: zeroes each element with probability p and scales the rest by 1/(1 - p), so that
 * evaluation needs no rescaling. The mask comes from rand() with `seed` (the global stream when omitted),
 * so a seeded call is reproducible. p = 0 returns x itself.
 */
export function dropout<D extends DType>(x: Tensor<D>, p: number, seed?: number): Tensor<D> {
  const op = 'dropout';
  checkTensor(op, 'x', x);
  checkFloat(op, 'x', x);
  checkNumber(op, 'p', p);
  if (!(p >= 0 && p < 1)) throw new ValueError(op, `p must be in [0, 1), got ${p}`);
  if (p === 0) return x;
  return tidy(() => {
    const keepMask = rand(x.shape, { dtype: x.dtype as FloatDType, device: x.device, ...(seed === undefined ? {} : { seed }) });
    return x.mul(keepMask.ge(p).mul(1 / (1 - p)) as unknown as Tensor<D>);
  });
}
