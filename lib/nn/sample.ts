/** Picking the next token from a row of logits: greedy, or sampled with temperature and top-k, in float64 on the host. */
import { ArgumentTypeError, ValueError } from '../errors.js';
import { checkFinite, checkInt, describe } from '../ops/util.js';

/**
 * The token for logits[offset .. offset + V): with temperature 0 the first maximum; otherwise a draw
 * from softmax(logits / temperature) restricted to the topK largest (every logit equal to the k-th
 * largest is kept), by inverting the cumulative distribution at u in [0, 1).
 */
export function sampleToken(logits: ArrayLike<number>, offset: number, V: number, temperature: number, topK: number | undefined, u: number): number {
  const op = 'sampleToken';
  if (typeof logits !== 'object' || logits === null || typeof logits.length !== 'number')
    throw new ArgumentTypeError(op, `logits must be an array or typed array, got ${describe(logits)}`);
  checkInt(op, 'V', V, 1, logits.length);
  checkInt(op, 'offset', offset, 0, logits.length - V);
  checkFinite(op, 'temperature', temperature, 0);
  if (topK !== undefined) checkInt(op, 'topK', topK, 1);
  if (!(checkFinite(op, 'u', u, 0) < 1)) throw new ValueError(op, `u must be in [0, 1), got ${u}`);
  let best = 0, max = -Infinity;
  for (let i = 0; i < V; i++) {
    const l = logits[offset + i]!;
    if (Number.isNaN(l)) throw new ValueError('GPT.generate', `the logits hold NaN (at token ${i}): the model's weights have diverged`);
    if (l > max) {
      max = l;
      best = i;
    }
  }
  if (temperature === 0) return best;
  let threshold = -Infinity;
  if (topK !== undefined && topK < V) {
    const sorted = Array.from({ length: V }, (_, i) => logits[offset + i]!).sort((a, b) => b - a);
    threshold = sorted[topK - 1]!;
  }
  const w = new Float64Array(V);
  let z = 0;
  for (let i = 0; i < V; i++) {
    const l = logits[offset + i]!;
    w[i] = l >= threshold ? Math.exp((l - max) / temperature) : 0;
    z += w[i]!;
  }
  const target = u * z;
  let acc = 0, last = best;
  for (let i = 0; i < V; i++) {
    if (w[i] === 0) continue;
    acc += w[i]!;
    last = i;
    if (acc > target) return i;
  }
  return last; // u·z rounded up to the total: the last token with weight
}
