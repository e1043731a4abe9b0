/** Matrix products on the native GEMM (fp32 accumulation), with bias and residual fused into it. */
import { attach, needsGrad, save } from '../autograd/record.js';
import type { DType } from '../dtype.js';
import { ShapeError } from '../errors.js';
import { native } from '../native.js';
import type { Tensor } from '../tensor.js';
import { sumToShape } from './broadcast.js';
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
  const bias = opts?.bias, residual = opts?.residual;
  if (bias !== undefined) checkTensor('matmul', 'bias', bias);
  if (residual !== undefined) checkTensor('matmul', 'residual', residual);
  const y = wrap<D>(native.matmul(a.handle, b.handle, bias?.handle ?? null, residual?.handle ?? null));
  if (!needsGrad(a, b, bias, residual)) return y;
  const sa = save(a), sb = save(b);
  return attach('matmul', y, [a, b, bias, residual], (g) => {
    // Work on the promoted 2-d+ forms: [..., M, K] @ [..., K, N] -> [..., M, N].
    const a2 = sa.ndim === 1 ? sa.reshape(1, sa.shape[0]!) : sa;
    const b2 = sb.ndim === 1 ? sb.reshape(sb.shape[0]!, 1) : sb;
    const gshape = [...g.shape];
    if (sa.ndim === 1) gshape.splice(gshape.length - (sb.ndim === 1 ? 0 : 1), 0, 1);
    if (sb.ndim === 1) gshape.push(1);
    const g2 = g.reshape(gshape);
    const ga = a.requiresGrad ? sumToShape(matmul(g2, b2.T), a2.shape).reshape(sa.shape) : null;
    let gb: Tensor | null = null;
    if (b.requiresGrad && b2.ndim === 2 && a2.ndim > 2) {
      // A weight shared by every batch row: one GEMM over all B·M rows (K = B·M), instead of B products
      // of [K, M]·[M, N] summed afterwards (B partial gradients, a reduce, and GEMMs B times shorter).
      const K = a2.shape[a2.ndim - 1]!, N = g2.shape[g2.ndim - 1]!;
      const rows = a2.reshape([-1, K]), grows = g2.reshape([-1, N]);
      // A weight read as a transposed view (Linear's W^T): its gradient is computed transposed as well,
      // (G^T A)^T, so W's own gradient comes out contiguous (else clipping and the optimizer copy it).
      gb = isTransposed(b2) ? matmul(grows.T, rows).T : matmul(rows.T, grows).reshape(sb.shape);
    } else if (b.requiresGrad) {
      gb = sumToShape(matmul(a2.T, g2), b2.shape).reshape(sb.shape);
    }
    const gbias = bias?.requiresGrad ? sumToShape(g, bias.shape) : null;
    return [ga, gb, gbias, residual?.requiresGrad ? g : null];
  }, [sa, sb]);
}

/** A 2-d view whose transpose is contiguous ([K, N] with strides [1, K]). */
function isTransposed(t: Tensor): boolean {
  return t.ndim === 2 && t.shape[0]! > 1 && t.strides[0] === 1 && t.strides[1] === t.shape[0];
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
  const wt = weight.T;
  try {
    return matmul(x, wt, bias === undefined ? undefined : { bias });
  } finally {
    wt.dispose(); // the product's graph keeps what backward needs
  }
}
