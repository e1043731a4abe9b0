/**
 * Gradient clipping by the total norm, in one fused native pass: the norm is accumulated in double, the
 * gradients are scaled in place when it exceeds maxNorm, and a NaN or Inf anywhere makes the norm
 * non-finite (nothing is scaled then). Clipping leaves no mark: the optimizer's step checks the gradients
 * it applies itself, so a gradient written after clipping cannot slip a NaN into the weights.
 */
import { ArgumentTypeError, DisposedError, ValueError } from '../errors.js';
import { keep } from '../memory.js';
import { native } from '../native.js';
import { Tensor } from '../tensor.js';

/**
 * @internal The parameter's gradient as a contiguous tensor: a strided gradient (a transposed weight's,
 * say) is replaced by a contiguous copy, once, so the fused passes can walk it flat.
 */
export function contiguousGrad(p: Tensor): Tensor | null {
  const g = p.grad;
  if (!g || g.isContiguous()) return g;
  const c = keep(g.contiguous());
  g.dispose();
  p.grad = c as typeof p.grad;
  return c;
}

/**
 * Scales the gradients of `params` so that their total 2-norm is at most `maxNorm` (by maxNorm / (norm +
 * 1e-6), as PyTorch does) and returns the norm before clipping. Parameters without a gradient are
 * skipped; a parameter listed twice counts once. Returns NaN or Infinity, and scales nothing, when a
 * gradient holds NaN or Inf. Two different gradients over the same memory are refused (ValueError):
 * scaling in place would scale that memory twice.
 */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number): number {
  const op = 'clipGradNorm';
  if (!Array.isArray(params)) throw new ArgumentTypeError(op, 'params must be an array of tensors');
  if (typeof maxNorm !== 'number' || Number.isNaN(maxNorm) || maxNorm <= 0) throw new ValueError(op, `maxNorm must be a positive number, got ${String(maxNorm)}`);
  const grads = new Set<Tensor>();
  params.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new ArgumentTypeError(op, `params[${i}] must be a Tensor`);
    if (p.isDisposed) throw new DisposedError(op, `params[${i}] is a disposed tensor`);
    const g = contiguousGrad(p);
    if (g) grads.add(g);
  });
  if (grads.size === 0) return 0;
  return native.clipGradNorm(
    [...grads].map((g) => g.handle),
    maxNorm,
  );
}

/** The total 2-norm of the gradients of `params` (NaN or Infinity when one holds NaN or Inf); nothing is scaled. */
export function gradNorm(params: readonly Tensor[]): number {
  return clipGradNorm(params, Infinity);
}
