/**
 * Fused (flash-style) scaled-dot-product attention with its backward rule: one native call each way,
 * no [Tq, Tk] matrix in memory. q [B, H, Tq, D], k and v [B, Hkv, Tk, D] with H a multiple of Hkv
 * (grouped-query attention: query head h reads key/value head h / (H / Hkv)); Tq <= Tk, and query i sits
 * at absolute position Tk - Tq + i (the last Tq positions, as with a KV cache).
 */
import { attach, needsGrad, save } from '../autograd/record.js';
import type { DType } from '../dtype.js';
import { ArgumentTypeError, DisposedError, DTypeError, ShapeError, ValueError } from '../errors.js';
import { native } from '../native.js';
import type { Tensor } from '../tensor.js';
import { checkOptions, checkTensor, describe, wrap } from './util.js';

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

const OP = 'attention';

function checkInput(name: string, t: unknown): asserts t is Tensor {
  checkTensor(OP, name, t);
  if (t.isDisposed) throw new DisposedError(OP, `${name} is a disposed tensor`);
}

/** Attention output [B, H, Tq, D] in q's dtype (float32, bfloat16 or float64 on the CPU; float32, bfloat16 or float16 on CUDA). */
export function fusedAttention<D extends DType>(q: Tensor<D>, k: Tensor<D>, v: Tensor<D>, opts?: FusedAttentionOptions): Tensor<D> {
  checkInput('q', q);
  checkInput('k', k);
  checkInput('v', v);
  checkOptions(OP, opts, ['causal', 'scale', 'alibiSlopes', 'docIds']);
  if (q.ndim !== 4 || k.ndim !== 4 || v.ndim !== 4)
    throw new ShapeError(OP, `q, k and v must have shape [B, H, T, D], got [${q.shape.join(', ')}], [${k.shape.join(', ')}] and [${v.shape.join(', ')}]`);
  if (q.dtype !== k.dtype || q.dtype !== v.dtype)
    throw new DTypeError(OP, `q, k and v must share a dtype, got ${q.dtype}, ${k.dtype} and ${v.dtype}`);
  const causal = opts?.causal ?? true;
  if (typeof causal !== 'boolean') throw new ArgumentTypeError(OP, `causal must be a boolean, got ${describe(causal)}`);
  const D = q.shape[3]!;
  const scale = opts?.scale ?? 1 / Math.sqrt(D);
  if (typeof scale !== 'number' || !Number.isFinite(scale)) throw new ValueError(OP, `scale must be a finite number, got ${describe(scale)}`);
  const slopesIn = opts?.alibiSlopes ?? null;
  let slopes: number[] | null = null;
  if (slopesIn !== null) {
    if (!Array.isArray(slopesIn)) throw new ArgumentTypeError(OP, `alibiSlopes must be an array of numbers or null, got ${describe(slopesIn)}`);
    slopes = slopesIn.map((s, i) => {
      if (typeof s !== 'number' || !Number.isFinite(s)) throw new ValueError(OP, `alibiSlopes[${i}] must be a finite number, got ${describe(s)}`);
      return s;
    });
  }
  const docIds = opts?.docIds ?? null;
  if (docIds !== null) checkInput('docIds', docIds);

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
  return attach(OP, out, [q, k, v], (g) => {
    const [dq, dk, dv] = native.attentionBackward(g.handle, sq.handle, sk.handle, sv.handle, so.handle, sl.handle, causal, scale, slopes, sd?.handle ?? null);
    return [wrap<D>(dq), wrap<D>(dk), wrap<D>(dv)];
  }, saved);
}
