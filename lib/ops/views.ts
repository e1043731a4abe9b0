/** Views (no copy: shape, strides and offset change) and conversions (copies), with backward rules. */
import { isGradEnabled } from '../autograd/grad_mode.js';
import { attach, needsGrad } from '../autograd/record.js';
import type { Device, DType } from '../dtype.js';
import { deviceCode, dtypeCode, isFloatDType } from '../dtype.js';
import { DisposedError, DTypeError, ShapeError, ValueError } from '../errors.js';
import { native } from '../native.js';
import type { Tensor } from '../tensor.js';
import { sumToShape } from './broadcast.js';
import { checkDevice, checkDType, checkInt, checkTensor, wrap } from './util.js';

/** A view with a new shape (one size may be -1); copies only when the tensor is not contiguous. */
export function reshape<D extends DType>(t: Tensor<D>, shape: readonly number[]): Tensor<D> {
  checkTensor('reshape', 'input', t);
  const y = wrap<D>(native.reshape(t.handle, shape as number[]));
  if (!needsGrad(t)) return y;
  return attach('reshape', y, [t], (g) => [g.reshape(t.shape)]);
}

export function transpose<D extends DType>(t: Tensor<D>, dim0 = -2, dim1 = -1): Tensor<D> {
  checkTensor('transpose', 'input', t);
  const y = wrap<D>(native.transpose(t.handle, dim0, dim1));
  if (!needsGrad(t)) return y;
  return attach('transpose', y, [t], (g) => [g.transpose(dim0, dim1)]);
}

export function permute<D extends DType>(t: Tensor<D>, dims: readonly number[]): Tensor<D> {
  checkTensor('permute', 'input', t);
  const y = wrap<D>(native.permute(t.handle, dims as number[]));
  if (!needsGrad(t)) return y;
  const inverse = new Array<number>(dims.length);
  dims.forEach((d, i) => (inverse[d < 0 ? d + dims.length : d] = i));
  return attach('permute', y, [t], (g) => [g.permute(inverse)]);
}

/** Elements start, start + step, ... below end along dim; negative indices count from the end. */
export function slice<D extends DType>(t: Tensor<D>, dim: number, start: number, end?: number, step = 1): Tensor<D> {
  checkTensor('slice', 'input', t);
  const e = end ?? Number.MAX_SAFE_INTEGER;
  const y = wrap<D>(native.slice(t.handle, dim, start, e, step));
  if (!needsGrad(t)) return y;
  return attach('slice', y, [t], (g) => {
    // Scatter into zeros through the same slice of a fresh tensor.
    const full = wrap<D>(native.full(t.shape as number[], dtypeCode(t.dtype), 0, deviceCode(t.device)));
    const view = native.slice(full.handle, dim, start, e, step);
    try {
      native.copyInto(view, g.handle);
    } finally {
      view.dispose();
    }
    return [full];
  });
}

/** Broadcasts size-1 dimensions to `shape` without copying (stride 0). */
export function expand<D extends DType>(t: Tensor<D>, shape: readonly number[]): Tensor<D> {
  checkTensor('expand', 'input', t);
  const y = wrap<D>(native.expand(t.handle, shape as number[]));
  if (!needsGrad(t)) return y;
  return attach('expand', y, [t], (g) => [sumToShape(g, t.shape)]);
}

export function squeeze<D extends DType>(t: Tensor<D>, dim?: number): Tensor<D> {
  checkTensor('squeeze', 'input', t);
  if (t.isDisposed) throw new DisposedError('squeeze', 'input is a disposed tensor');
  if (dim === undefined) return reshape(t, t.shape.filter((d) => d !== 1));
  checkInt('squeeze', 'dim', dim);
  const d = dim < 0 ? dim + t.ndim : dim;
  if (d < 0 || d >= t.ndim) throw new ShapeError('squeeze', `dimension ${dim} is out of range for ${t.ndim} dimensions`);
  if (t.shape[d] !== 1) return reshape(t, t.shape);
  return reshape(t, t.shape.filter((_, i) => i !== d));
}

export function unsqueeze<D extends DType>(t: Tensor<D>, dim: number): Tensor<D> {
  checkTensor('unsqueeze', 'input', t);
  if (t.isDisposed) throw new DisposedError('unsqueeze', 'input is a disposed tensor');
  checkInt('unsqueeze', 'dim', dim);
  const d = dim < 0 ? dim + t.ndim + 1 : dim;
  if (d < 0 || d > t.ndim) throw new ShapeError('unsqueeze', `dimension ${dim} is out of range for ${t.ndim + 1} dimensions`);
  const shape = [...t.shape];
  shape.splice(d, 0, 1);
  return reshape(t, shape);
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

// Ops whose gradient passes through unchanged (a copy or a layout change).
function identityGrad<D extends DType>(name: string, t: Tensor, y: Tensor<D>): Tensor<D> {
  if (!needsGrad(t)) return y;
  return attach(name, y, [t], (g) => [g]);
}

/** The same tensor when already contiguous, else a contiguous copy. */
export function contiguous<D extends DType>(t: Tensor<D>): Tensor<D> {
  checkTensor('contiguous', 'input', t);
  return identityGrad('contiguous', t, wrap<D>(native.contiguous(t.handle)));
}

/**
 * The tensor in another dtype: a converted copy (floats to integers truncate toward zero and saturate;
 * NaN becomes 0), or a view of the same storage when the dtype already matches.
 */
export function astype<E extends DType>(t: Tensor, dtype: E): Tensor<E> {
  checkTensor('astype', 'input', t);
  const y = wrap<E>(native.astype(t.handle, dtypeCode(checkDType('astype', dtype))));
  if (!needsGrad(t) || !isFloatDType(dtype)) return y;
  return attach('astype', y, [t], (g) => [g.astype(t.dtype)]);
}

export function to<D extends DType>(t: Tensor<D>, device: Device): Tensor<D> {
  checkTensor('to', 'input', t);
  const y = wrap<D>(native.to(t.handle, deviceCode(checkDevice('to', device))));
  if (!needsGrad(t)) return y;
  return attach('to', y, [t], (g) => [g.to(t.device)]);
}

/** A contiguous copy that shares no storage with t. */
export function clone<D extends DType>(t: Tensor<D>): Tensor<D> {
  checkTensor('clone', 'input', t);
  if (t.isDisposed) throw new DisposedError('clone', 'input is a disposed tensor');
  const out = wrap<D>(native.full(t.shape as number[], dtypeCode(t.dtype), 0, deviceCode(t.device)));
  native.copyInto(out.handle, t.handle);
  return identityGrad('clone', t, out);
}

/** Copies src into dst in place, broadcasting src and converting its dtype. Not recorded by autograd. */
export function copyInto(dst: Tensor, src: Tensor): void {
  checkTensor('copy', 'destination', dst);
  checkTensor('copy', 'source', src);
  if (isGradEnabled() && (dst.requiresGrad || src.requiresGrad))
    throw new ValueError('copy', 'in-place copies are not recorded by autograd: run them under noGrad() or on tensors that need no gradient');
  native.copyInto(dst.handle, src.handle);
}

/** Joins tensors of one dtype along dim; all other sizes must match. */
export function cat<D extends DType>(tensors: readonly Tensor<D>[], dim = 0): Tensor<D> {
  if (!Array.isArray(tensors) || tensors.length === 0) throw new ValueError('cat', 'needs a non-empty array of tensors');
  tensors.forEach((t, i) => checkTensor('cat', `tensors[${i}]`, t));
  const first = tensors[0]!;
  const nd = first.ndim;
  checkInt('cat', 'dim', dim);
  const d = dim < 0 ? dim + nd : dim;
  if (nd === 0 || d < 0 || d >= nd) throw new ShapeError('cat', `dimension ${dim} is out of range for ${nd} dimensions`);
  for (let i = 0; i < tensors.length; i++) {
    const t: Tensor = tensors[i]!;
    if (t.ndim !== nd || t.shape.some((s, j) => j !== d && s !== first.shape[j]))
      throw new ShapeError('cat', `tensors[${i}] has shape [${t.shape.join(', ')}], incompatible with [${first.shape.join(', ')}] along dim ${dim}`);
    if (t.dtype !== first.dtype) throw new DTypeError('cat', `tensors[${i}] is ${t.dtype}, tensors[0] is ${first.dtype}`);
  }
  const shape = [...first.shape];
  shape[d] = tensors.reduce((n, t) => n + t.shape[d]!, 0);
  const out = wrap<D>(native.full(shape, dtypeCode(first.dtype), 0, deviceCode(first.device)));
  const offsets: number[] = [];
  let off = 0;
  for (const t of tensors) {
    offsets.push(off);
    const view = native.slice(out.handle, d, off, off + t.shape[d]!, 1);
    try {
      native.copyInto(view, t.handle);
    } finally {
      view.dispose();
    }
    off += t.shape[d]!;
  }
  if (!needsGrad(...tensors)) return out;
  return attach('cat', out, [...tensors], (g) => tensors.map((t, i) => g.slice(d, offsets[i]!, offsets[i]! + t.shape[d]!).contiguous()));
}
