/** Gradient helpers for broadcasting: sum a gradient back down to an operand's shape. */
import { ShapeError } from '../errors.js';
import { native } from '../native.js';
import type { Tensor } from '../tensor.js';
import { wrap } from './util.js';

/**
 * Sums g over the dimensions that broadcasting added or stretched, so that the result has `shape`.
 * Returns g itself when nothing needs summing.
 */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  const lead = g.ndim - shape.length;
  if (lead < 0) throw new ShapeError('sumToShape', `cannot reduce [${g.shape.join(', ')}] to [${shape.join(', ')}]`);
  const dims: number[] = [];
  for (let i = 0; i < g.ndim; i++) {
    if (i < lead) dims.push(i);
    else if (shape[i - lead] === 1 && g.shape[i] !== 1) dims.push(i);
  }
  if (dims.length === 0) return lead === 0 ? g : wrap(native.reshape(g.handle, shape as number[]));
  const summed = native.reduce('sum', g.handle, dims, true);
  try {
    return wrap(native.reshape(summed, shape as number[]));
  } finally {
    summed.dispose();
  }
}
