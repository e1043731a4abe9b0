/** Views (no copy: shape, strides and offset change) and conversions (copies). */
import type { Device, DType } from '../dtype.js';
import { deviceCode, dtypeCode } from '../dtype.js';
import { ShapeError } from '../errors.js';
import { native } from '../native.js';
import type { Tensor } from '../tensor.js';
import { checkDevice, checkDType, checkInt, checkTensor, wrap } from './util.js';

/** A view with a new shape (one size may be -1); copies only when the tensor is not contiguous. */
export function reshape<D extends DType>(t: Tensor<D>, shape: readonly number[]): Tensor<D> {
  checkTensor('reshape', 'input', t);
  return wrap(native.reshape(t.handle, shape as number[]));
}

export function transpose<D extends DType>(t: Tensor<D>, dim0 = -2, dim1 = -1): Tensor<D> {
  checkTensor('transpose', 'input', t);
  return wrap(native.transpose(t.handle, dim0, dim1));
}

export function permute<D extends DType>(t: Tensor<D>, dims: readonly number[]): Tensor<D> {
  checkTensor('permute', 'input', t);
  return wrap(native.permute(t.handle, dims as number[]));
}

/** Elements start, start + step, ... below end along dim; negative indices count from the end. */
export function slice<D extends DType>(t: Tensor<D>, dim: number, start: number, end?: number, step = 1): Tensor<D> {
  checkTensor('slice', 'input', t);
  const e = end ?? Number.MAX_SAFE_INTEGER;
  return wrap(native.slice(t.handle, dim, start, e, step));
}

/** Broadcasts size-1 dimensions to `shape` without copying (stride 0). */
export function expand<D extends DType>(t: Tensor<D>, shape: readonly number[]): Tensor<D> {
  checkTensor('expand', 'input', t);
  return wrap(native.expand(t.handle, shape as number[]));
}

export function squeeze<D extends DType>(t: Tensor<D>, dim?: number): Tensor<D> {
  checkTensor('squeeze', 'input', t);
  if (dim === undefined) return reshape(t, t.shape.filter((d) => d !== 1));
  checkInt('squeeze', 'dim', dim);
  const d = dim < 0 ? dim + t.ndim : dim;
  if (d < 0 || d >= t.ndim) throw new ShapeError('squeeze', `dimension ${dim} is out of range for ${t.ndim} dimensions`);
  if (t.shape[d] !== 1) return reshape(t, t.shape);
  return reshape(t, t.shape.filter((_, i) => i !== d));
}

export function unsqueeze<D extends DType>(t: Tensor<D>, dim: number): Tensor<D> {
  checkTensor('unsqueeze', 'input', t);
  checkInt('unsqueeze', 'dim', dim);
  const d = dim < 0 ? dim + t.ndim + 1 : dim;
  if (d < 0 || d > t.ndim) throw new ShapeError('unsqueeze', `dimension ${dim} is out of range for ${t.ndim + 1} dimensions`);
  const shape = [...t.shape];
  shape.splice(d, 0, 1);
  return wrap(native.reshape(t.handle, shape));
}

export function isContiguous(t: Tensor): boolean {
  const strides = t.strides;
  let acc = 1;
  for (let i = t.ndim - 1; i >= 0; i--) {
    if (t.shape[i] !== 1 && strides[i] !== acc) return false;
    acc *= t.shape[i]!;
  }
  return true;
}

/** The same tensor when already contiguous, else a contiguous copy. */
export function contiguous<D extends DType>(t: Tensor<D>): Tensor<D> {
  checkTensor('contiguous', 'input', t);
  return wrap(native.contiguous(t.handle));
}

/** A copy in another dtype (floats to integers truncate toward zero and saturate; NaN becomes 0). */
export function astype<E extends DType>(t: Tensor, dtype: E): Tensor<E> {
  checkTensor('astype', 'input', t);
  return wrap(native.astype(t.handle, dtypeCode(checkDType('astype', dtype))));
}

export function to<D extends DType>(t: Tensor<D>, device: Device): Tensor<D> {
  checkTensor('to', 'input', t);
  return wrap(native.to(t.handle, deviceCode(checkDevice('to', device))));
}

/** A contiguous copy that shares no storage with t. */
export function clone<D extends DType>(t: Tensor<D>): Tensor<D> {
  checkTensor('clone', 'input', t);
  const out = wrap<D>(native.full(t.shape as number[], dtypeCode(t.dtype), 0, deviceCode(t.device)));
  native.copyInto(out.handle, t.handle);
  return out;
}

/** Copies src into dst in place, broadcasting src and converting its dtype. */
export function copyInto(dst: Tensor, src: Tensor): void {
  checkTensor('copy', 'destination', dst);
  checkTensor('copy', 'source', src);
  native.copyInto(dst.handle, src.handle);
}
