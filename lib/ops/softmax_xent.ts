/** Softmax, log-softmax and the fused softmax cross-entropy, with backward rules. */
import { attach, needsGrad, save } from '../autograd/record.js';
import type { DType } from '../dtype.js';
import { deviceCode, dtypeCode } from '../dtype.js';
import { DisposedError, ShapeError, ValueError } from '../errors.js';
import { native } from '../native.js';
import type { Tensor } from '../tensor.js';
import { exp, mul, sub } from './elementwise.js';
import { sum } from './reduce.js';
import { checkInt, checkOptions, checkTensor, wrap } from './util.js';

export function softmax<D extends DType>(t: Tensor<D>, dim = -1): Tensor<D> {
  checkTensor('softmax', 'input', t);
  checkInt('softmax', 'dim', dim);
  const y = wrap<D>(native.softmax(t.handle, dim, false));
  if (!needsGrad(t)) return y;
  const sy = save(y);
  // dx = y * (g - sum(g * y))
  return attach('softmax', y, [t], (g) => [mul(sy, sub(g, sum(mul(g, sy), dim, true)))], [sy]);
}

export function logSoftmax<D extends DType>(t: Tensor<D>, dim = -1): Tensor<D> {
  checkTensor('logSoftmax', 'input', t);
  checkInt('logSoftmax', 'dim', dim);
  const y = wrap<D>(native.softmax(t.handle, dim, true));
  if (!needsGrad(t)) return y;
  const sy = save(y);
  // dx = g - softmax * sum(g)
  return attach('logSoftmax', y, [t], (g) => [sub(g, mul(exp(sy), sum(g, dim, true)))], [sy]);
}

export interface CrossEntropyOptions {
  /** Targets equal to this are skipped (default -100). */
  ignoreIndex?: number;
  /** 'mean' over non-ignored targets (default), 'sum', or 'none' for per-target losses. */
  reduction?: 'mean' | 'sum' | 'none';
  /** z-loss coefficient (PaLM): adds zLoss * logsumexp(logits)^2 per non-ignored target; default 0. */
  zLoss?: number;
}

/**
 * Cross-entropy of logits [..., V] against int32 class indices [...], with the softmax fused in.
 * The mean over zero valid targets is NaN. The backward pass is one fused native pass from the saved
 * per-row log-sum-exp.
 */
export function crossEntropy<D extends DType>(logits: Tensor<D>, targets: Tensor<'int32'>, opts?: CrossEntropyOptions): Tensor<D> {
  const op = 'crossEntropy';
  checkTensor(op, 'logits', logits);
  checkTensor(op, 'targets', targets);
  if (logits.isDisposed) throw new DisposedError(op, 'logits is a disposed tensor');
  if (targets.isDisposed) throw new DisposedError(op, 'targets is a disposed tensor');
  checkOptions(op, opts, ['ignoreIndex', 'reduction', 'zLoss']);
  const zLoss = opts?.zLoss ?? 0;
  if (typeof zLoss !== 'number' || !Number.isFinite(zLoss) || zLoss < 0) throw new ValueError(op, `zLoss must be a finite number >= 0, got ${String(zLoss)}`);
  const reduction = opts?.reduction ?? 'mean';
  const ignoreIndex = opts?.ignoreIndex ?? -100;
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none')
    throw new ValueError(op, `reduction must be 'mean', 'sum' or 'none', got ${JSON.stringify(reduction)}`);
  // Shapes are checked here because the native op sees them flattened to [N, V] and [N]; dtypes and
  // target ranges are the native op's (the kernel checks each target as it reads it).
  if (logits.ndim < 1) throw new ShapeError(op, 'logits must have a class dimension');
  const V = logits.shape[logits.ndim - 1]!;
  const lead = logits.shape.slice(0, -1);
  if (lead.length !== targets.ndim || lead.some((d, i) => d !== targets.shape[i]))
    throw new ShapeError(op, `targets must have shape [${lead.join(', ')}] for logits [${logits.shape.join(', ')}], got [${targets.shape.join(', ')}]`);
  const N = lead.reduce((a, b) => a * b, 1);
  const x2 = native.reshape(logits.handle, [N, V]);
  const y2 = native.reshape(targets.handle, [N]);
  let lossH: ReturnType<typeof native.reshape> | undefined;
  let lseH: ReturnType<typeof native.reshape> | undefined;
  let valid = 0;
  try {
    [lossH, lseH, valid] = native.crossEntropy(x2, y2, ignoreIndex, reduction, zLoss);
    if (reduction === 'none' && lead.length !== 1) {
      const flat = lossH;
      lossH = native.reshape(flat, lead);
      flat.dispose();
    }
  } finally {
    x2.dispose();
    y2.dispose();
  }
  const loss = wrap<D>(lossH!);
  const lse = wrap(lseH!);
  if (!needsGrad(logits)) {
    lse.dispose();
    return loss;
  }
  const sx = save(logits), st = save(targets), slse = save(lse);
  lse.dispose();
  return attach(op, loss, [logits], (g) => {
    // Each row's share of the incoming gradient, in the log-sum-exp's dtype.
    let rowGrad: Tensor;
    if (reduction === 'none') {
      rowGrad = g.reshape(N).astype(slse.dtype);
    } else {
      const scale = g.astype('float64').item() / (reduction === 'mean' ? valid : 1);
      rowGrad = wrap(native.full([N], dtypeCode(slse.dtype), scale, deviceCode(g.device)));
    }
    const xs = native.reshape(sx.handle, [N, V]);
    const ts = native.reshape(st.handle, [N]);
    try {
      return [wrap<D>(native.crossEntropyBackward(xs, ts, slse.handle, rowGrad.handle, ignoreIndex, zLoss)).reshape(sx.shape)];
    } finally {
      xs.dispose();
      ts.dispose();
    }
  }, [sx, st, slse]);
}
