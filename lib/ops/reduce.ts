/** Reductions over one or more dimensions (all of them when dim is omitted), with their backward rules. */
import { attach, needsGrad, save } from '../autograd/record.js';
import type { DType } from '../dtype.js';
import { deviceCode, dtypeCode } from '../dtype.js';
import { native } from '../native.js';
import type { Tensor } from '../tensor.js';
import { div, eq, mul } from './elementwise.js';
import { DisposedError } from '../errors.js';
import { checkInt, checkTensor, wrap } from './util.js';
import { reshape } from './views.js';

type ReduceName = 'sum' | 'mean' | 'max' | 'min' | 'argmax' | 'argmin';

// The reduced dims, normalised and sorted; all of them when dim is undefined.
function reducedDims(t: Tensor, dim: number | number[] | undefined): number[] {
  if (dim === undefined) return [...Array(t.ndim).keys()];
  const ds = Array.isArray(dim) ? dim : [dim];
  return ds.map((d) => (d < 0 ? d + t.ndim : d)).sort((a, b) => a - b);
}

// The output's shape with size-1 entries where dims were reduced (what the gradient expands from).
function keptShape(t: Tensor, dims: number[]): number[] {
  return t.shape.map((d, i) => (dims.includes(i) ? 1 : d));
}

function reduce<D extends DType>(op: ReduceName, t: Tensor, dim: number | number[] | undefined, keepdim: boolean): Tensor<D> {
  checkTensor(op, 'input', t);
  const dims = dim === undefined ? [] : Array.isArray(dim) ? dim : [dim];
  for (const d of dims) checkInt(op, 'dim', d);
  if (Array.isArray(dim) && dim.length === 0) {
    // Reduce over nothing: each element is its own extreme, at index 0 of its one-element set.
    if (op === 'argmax' || op === 'argmin') {
      if (t.isDisposed) throw new DisposedError(op, 'input is a disposed tensor');
      return wrap(native.full(t.shape as number[], dtypeCode('int32'), 0, deviceCode(t.device)));
    }
    return reshape(t, t.shape) as Tensor<D>; // a view, on the tape like any other
  }
  const y = wrap<D>(native.reduce(op, t.handle, dims, keepdim));
  if (op === 'argmax' || op === 'argmin' || !needsGrad(t)) return y;
  const all = reducedDims(t, dim);
  const kshape = keptShape(t, all);
  const count = all.reduce((n, d) => n * t.shape[d]!, 1);
  if (op === 'sum' || op === 'mean') {
    return attach(op, y, [t], (g) => {
      const gk = g.reshape(kshape);
      const scaled = op === 'mean' ? mul(gk, 1 / count) : gk;
      return [scaled.expand(t.shape).contiguous()];
    });
  }
  // max/min: the gradient goes to the elements equal to the extreme, split evenly among ties.
  const x = save(t), yk = save(y);
  return attach(op, y, [t], (g) => {
    const ext = yk.reshape(kshape);
    const mask = eq(x, ext);
    const ties = native.reduce('sum', mask.handle, all, true);
    const share = div(mask, wrap(ties));
    return [mul(share, g.reshape(kshape))];
  }, [x, yk]);
}

/** Sum, accumulated in float64. An empty dimension sums to 0. */
export const sum = <D extends DType>(t: Tensor<D>, dim?: number | number[], keepdim = false): Tensor<D> => reduce('sum', t, dim, keepdim);
export const mean = <D extends DType>(t: Tensor<D>, dim?: number | number[], keepdim = false): Tensor<D> => reduce('mean', t, dim, keepdim);
/** Maximum; NaN wins. Its gradient is split evenly among tied maxima. */
export const max = <D extends DType>(t: Tensor<D>, dim?: number | number[], keepdim = false): Tensor<D> => reduce('max', t, dim, keepdim);
/** Minimum; NaN wins. */
export const min = <D extends DType>(t: Tensor<D>, dim?: number | number[], keepdim = false): Tensor<D> => reduce('min', t, dim, keepdim);
/** Index of the first maximum along dim (into the flattened tensor when dim is omitted). */
export const argmax = (t: Tensor, dim?: number, keepdim = false): Tensor<'int32'> => argReduce('argmax', t, dim, keepdim);
export const argmin = (t: Tensor, dim?: number, keepdim = false): Tensor<'int32'> => argReduce('argmin', t, dim, keepdim);

function argReduce(op: 'argmax' | 'argmin', t: Tensor, dim: number | undefined, keepdim: boolean): Tensor<'int32'> {
  checkTensor(op, 'input', t);
  if (dim !== undefined) return reduce(op, t, dim, keepdim);
  if (t.isDisposed) throw new DisposedError(op, 'input is a disposed tensor');
  const flat = t.flatten();
  try {
    const r = reduce<'int32'>(op, flat, 0, false);
    if (!keepdim) return r;
    // keepdim over every dimension: a tensor of ones in t's rank holding the flat index
    const kept = r.reshape(t.shape.map(() => 1));
    r.dispose();
    return kept;
  } finally {
    if (flat !== t) flat.dispose();
  }
}
