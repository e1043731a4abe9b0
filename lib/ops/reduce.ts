/** Reductions over one or more dimensions (all of them when dim is omitted). */
import type { DType } from '../dtype.js';
import { native } from '../native.js';
import type { Tensor } from '../tensor.js';
import { checkTensor, wrap } from './util.js';

type ReduceName = 'sum' | 'mean' | 'max' | 'min' | 'argmax' | 'argmin';

function reduce<D extends DType>(op: ReduceName, t: Tensor, dim: number | number[] | undefined, keepdim: boolean): Tensor<D> {
  checkTensor(op, 'input', t);
  const dims = dim === undefined ? [] : Array.isArray(dim) ? dim : [dim];
  if (Array.isArray(dim) && dim.length === 0) return wrap(native.reshape(t.handle, t.shape as number[])); // reduce over nothing
  return wrap(native.reduce(op, t.handle, dims, keepdim));
}

/** Sum, accumulated in float64. An empty dimension sums to 0. */
export const sum = <D extends DType>(t: Tensor<D>, dim?: number | number[], keepdim = false): Tensor<D> => reduce('sum', t, dim, keepdim);
export const mean = <D extends DType>(t: Tensor<D>, dim?: number | number[], keepdim = false): Tensor<D> => reduce('mean', t, dim, keepdim);
/** Maximum; NaN wins. */
export const max = <D extends DType>(t: Tensor<D>, dim?: number | number[], keepdim = false): Tensor<D> => reduce('max', t, dim, keepdim);
/** Minimum; NaN wins. */
export const min = <D extends DType>(t: Tensor<D>, dim?: number | number[], keepdim = false): Tensor<D> => reduce('min', t, dim, keepdim);
/** Index of the first maximum along dim (of the flattened tensor when dim is omitted). */
export const argmax = (t: Tensor, dim?: number, keepdim = false): Tensor<'int32'> =>
  dim === undefined ? reduce('argmax', t.flatten(), 0, false) : reduce('argmax', t, dim, keepdim);
export const argmin = (t: Tensor, dim?: number, keepdim = false): Tensor<'int32'> =>
  dim === undefined ? reduce('argmin', t.flatten(), 0, false) : reduce('argmin', t, dim, keepdim);
