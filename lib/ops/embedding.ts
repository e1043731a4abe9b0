/** Row gather from an embedding table. */
import type { DType } from '../dtype.js';
import { native } from '../native.js';
import type { Tensor } from '../tensor.js';
import { checkTensor, wrap } from './util.js';

/** weight[indices]: weight [V, D], int32 indices of any shape; the result is [...indices.shape, D]. */
export function embedding<D extends DType>(weight: Tensor<D>, indices: Tensor<'int32'>): Tensor<D> {
  checkTensor('embedding', 'weight', weight);
  checkTensor('embedding', 'indices', indices);
  return wrap(native.embedding(weight.handle, indices.handle));
}
