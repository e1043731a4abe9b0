/** Row gather from an embedding table, and its scatter-add backward. */
import { attach, needsGrad, save } from '../autograd/record.js';
import type { DType } from '../dtype.js';
import { native } from '../native.js';
import type { Tensor } from '../tensor.js';
import { checkTensor, wrap } from './util.js';

/** weight[indices]: weight [V, D], int32 indices of any shape; the result is [...indices.shape, D]. */
export function embedding<D extends DType>(weight: Tensor<D>, indices: Tensor<'int32'>): Tensor<D> {
  checkTensor('embedding', 'weight', weight);
  checkTensor('embedding', 'indices', indices);
  const y = wrap<D>(native.embedding(weight.handle, indices.handle));
  if (!needsGrad(weight)) return y;
  const idx = save(indices);
  const V = weight.shape[0]!;
  // Repeated indices add up; threads split the columns, so the sums do not depend on the thread count.
  return attach('embedding', y, [weight], (g) => [wrap<D>(native.embeddingBackward(g.handle, idx.handle, V))], [idx]);
}
