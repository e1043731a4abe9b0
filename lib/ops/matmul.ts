/** Matrix products on the native GEMM (fp32 accumulation), with bias and residual fused into it. */
import type { DType } from '../dtype.js';
import { ShapeError } from '../errors.js';
import { native } from '../native.js';
import type { Tensor } from '../tensor.js';
import { checkOptions, checkTensor, wrap } from './util.js';

export interface MatmulOptions<D extends DType> {
  /** Added to every row of the result: shape [N]. */
  bias?: Tensor<D>;
  /** Added to the result: the result's shape. */
  residual?: Tensor<D>;
}

/**
 * a @ b with NumPy semantics: 1-d operands are promoted to a row or column vector (and that dimension
 * dropped from the result), leading dimensions broadcast. Transposed views are read in place.
 */
export function matmul<D extends DType>(a: Tensor<D>, b: Tensor<D>, opts?: MatmulOptions<D>): Tensor<D> {
  checkTensor('matmul', 'a', a);
  checkTensor('matmul', 'b', b);
  checkOptions('matmul', opts, ['bias', 'residual']);
  if (opts?.bias !== undefined) checkTensor('matmul', 'bias', opts.bias);
  if (opts?.residual !== undefined) checkTensor('matmul', 'residual', opts.residual);
  return wrap(native.matmul(a.handle, b.handle, opts?.bias?.handle ?? null, opts?.residual?.handle ?? null));
}

/** Batched product of [B, M, K] and [B, K, N]. */
export function bmm<D extends DType>(a: Tensor<D>, b: Tensor<D>): Tensor<D> {
  checkTensor('bmm', 'a', a);
  checkTensor('bmm', 'b', b);
  if (a.ndim !== 3 || b.ndim !== 3 || a.shape[0] !== b.shape[0])
    throw new ShapeError('bmm', `expected [B, M, K] and [B, K, N] with equal B, got [${a.shape.join(', ')}] and [${b.shape.join(', ')}]`);
  return matmul(a, b);
}

/** x @ weight^T + bias, the layer convention: weight is [out, in]. */
export function linear<D extends DType>(x: Tensor<D>, weight: Tensor<D>, bias?: Tensor<D>): Tensor<D> {
  checkTensor('linear', 'weight', weight);
  if (weight.ndim !== 2) throw new ShapeError('linear', `weight must be [out, in], got [${weight.shape.join(', ')}]`);
  const wt = weight.transpose(0, 1);
  try {
    return matmul(x, wt, bias === undefined ? undefined : { bias });
  } finally {
    wt.dispose();
  }
}
