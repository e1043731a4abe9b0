/** Float64 references: softmax and log-softmax over any dim, cross-entropy, and the embedding gather. */
import { indexOf, nd, normDim, numel, offsetOf, stridesOf, type NdArray } from './ndarray.js';

function lines(a: NdArray, dim: number): { base: number; stride: number; n: number }[] {
  const d = normDim(dim, a.shape.length);
  const st = stridesOf(a.shape);
  const other = a.shape.map((s, i) => (i === d ? 1 : s));
  const res = [];
  for (let o = 0; o < numel(other); o++) res.push({ base: offsetOf(indexOf(o, other), st), stride: st[d]!, n: a.shape[d]! });
  return res;
}

/** log(sum(exp(x))) with the maximum subtracted; NaN if any entry is NaN; -inf if all are -inf. */
export function logSumExp(xs: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < xs.length; i++) {
    if (Number.isNaN(xs[i]!)) return NaN;
    m = Math.max(m, xs[i]!);
  }
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += Math.exp(xs[i]! - m);
  return m + Math.log(s);
}

export function refSoftmax(a: NdArray, dim = -1, log = false): NdArray {
  const out = nd(a.shape);
  for (const { base, stride, n } of lines(a, dim)) {
    const xs = Array.from({ length: n }, (_, i) => a.data[base + i * stride]!);
    const l = logSumExp(xs);
    xs.forEach((x, i) => {
      out.data[base + i * stride] = log ? x - l : Math.exp(x - l);
    });
  }
  return out;
}

/**
 * Cross-entropy of logits [..., V] (flattened to rows) against integer targets: loss_i = lse_i - x[i, t_i],
 * rows with t_i === ignoreIndex contribute 0 and are not counted. 'mean' divides by the count of valid
 * rows (NaN when there are none); 'sum' adds; 'none' returns each row's loss (0 on ignored rows).
 */
export function refCrossEntropy(logits: NdArray, targets: ArrayLike<number>, ignoreIndex = -100, reduction: 'mean' | 'sum' | 'none' = 'mean'): Float64Array {
  const V = logits.shape[logits.shape.length - 1]!;
  const N = logits.data.length / V;
  if (targets.length !== N) throw new Error('refCrossEntropy: targets do not match');
  const losses = new Float64Array(N);
  let valid = 0;
  for (let i = 0; i < N; i++) {
    const t = targets[i]!;
    if (t === ignoreIndex) continue;
    if (!(t >= 0 && t < V)) throw new Error(`refCrossEntropy: target ${t} out of range`);
    const row = logits.data.subarray(i * V, (i + 1) * V);
    losses[i] = logSumExp(row) - row[t]!;
    valid++;
  }
  if (reduction === 'none') return losses;
  const s = losses.reduce((x, y) => x + y, 0);
  return Float64Array.of(reduction === 'sum' ? s : valid === 0 ? NaN : s / valid);
}

/** weight [V, D] gathered by integer indices of any shape: out [...indices.shape, D]. */
export function refEmbedding(weight: NdArray, indices: ArrayLike<number>, indexShape: readonly number[]): NdArray {
  const [V, D] = weight.shape as [number, number];
  const out = nd([...indexShape, D]);
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i]!;
    if (!(Number.isInteger(r) && r >= 0 && r < V)) throw new Error(`refEmbedding: index ${r} out of range`);
    for (let j = 0; j < D; j++) out.data[i * D + j] = weight.data[r * D + j]!;
  }
  return out;
}
