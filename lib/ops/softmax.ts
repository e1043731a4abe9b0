/** Softmax, log-softmax and the fused softmax cross-entropy. */
import type { DType } from '../dtype.js';
import { DTypeError, ShapeError, ValueError } from '../errors.js';
import { native } from '../native.js';
import type { Tensor } from '../tensor.js';
import { checkOptions, checkTensor, wrap } from './util.js';

export function softmax<D extends DType>(t: Tensor<D>, dim = -1): Tensor<D> {
  checkTensor('softmax', 'input', t);
  return wrap(native.softmax(t.handle, dim, false));
}

export function logSoftmax<D extends DType>(t: Tensor<D>, dim = -1): Tensor<D> {
  checkTensor('logSoftmax', 'input', t);
  return wrap(native.softmax(t.handle, dim, true));
}

export interface CrossEntropyOptions {
  /** Targets equal to this are skipped (default -100). */
  ignoreIndex?: number;
  /** 'mean' over non-ignored targets (default), 'sum', or 'none' for per-target losses. */
  reduction?: 'mean' | 'sum' | 'none';
}

/**
 * Cross-entropy of logits [..., V] against int32 class indices [...], with the softmax fused in.
 * The mean over zero valid targets is NaN.
 */
export function crossEntropy<D extends DType>(logits: Tensor<D>, targets: Tensor<'int32'>, opts?: CrossEntropyOptions): Tensor<D> {
  const op = 'crossEntropy';
  checkTensor(op, 'logits', logits);
  checkTensor(op, 'targets', targets);
  checkOptions(op, opts, ['ignoreIndex', 'reduction']);
  const reduction = opts?.reduction ?? 'mean';
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none')
    throw new ValueError(op, `reduction must be 'mean', 'sum' or 'none', got ${JSON.stringify(reduction)}`);
  if (targets.dtype !== 'int32') throw new DTypeError(op, `targets must be int32, got ${targets.dtype}`);
  if (logits.ndim < 1) throw new ShapeError(op, 'logits must have a class dimension');
  const V = logits.shape[logits.ndim - 1]!;
  const lead = logits.shape.slice(0, -1);
  if (lead.length !== targets.ndim || lead.some((d, i) => d !== targets.shape[i]))
    throw new ShapeError(op, `targets must have shape [${lead.join(', ')}] for logits [${logits.shape.join(', ')}], got [${targets.shape.join(', ')}]`);
  const N = lead.reduce((a, b) => a * b, 1);
  const x = native.reshape(logits.handle, [N, V]);
  const y = native.reshape(targets.handle, [N]);
  try {
    const out = native.crossEntropy(x, y, opts?.ignoreIndex ?? -100, reduction);
    if (reduction !== 'none' || lead.length === 1) return wrap(out);
    try {
      return wrap(native.reshape(out, lead));
    } finally {
      out.dispose();
    }
  } finally {
    x.dispose();
    y.dispose();
  }
}
