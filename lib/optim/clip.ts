/**
 * Gradient clipping by the total norm, in one fused native pass: the norm is accumulated in double, the
 * gradients are scaled in place when it exceeds maxNorm, and a NaN or Inf anywhere makes the norm
 * non-finite (nothing is scaled then, and the next optimizer step is skipped and counted).
 */
import { ArgumentTypeError, ValueError } from '../errors.js';
import { keep } from '../memory.js';
import { native } from '../native.js';
import { Tensor } from '../tensor.js';

// Gradients that clipGradNorm just found finite: the next step() over exactly these tensors skips its own
// finiteness pass (one read of the gradients saved). Any gradient not in the set makes the step check.
let verified = new WeakSet<Tensor>();

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

/** @internal True (and forgets them) when every gradient was verified finite by the last clipGradNorm. */
export function takeVerified(grads: readonly Tensor[]): boolean {
  const all = grads.length > 0 && grads.every((g) => verified.has(g));
  verified = new WeakSet();
  return all;
}

/**
 * Scales the gradients of `params` so that their total 2-norm is at most `maxNorm` (by maxNorm / (norm +
 * 1e-6), as PyTorch does) and returns the norm before clipping. Parameters without a gradient are
 * skipped. Returns NaN or Infinity, and scales nothing, when a gradient holds NaN or Inf.
 */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number): number {
  const op = 'clipGradNorm';
  if (!Array.isArray(params)) throw new ArgumentTypeError(op, 'params must be an array of tensors');
  if (typeof maxNorm !== 'number' || Number.isNaN(maxNorm) || maxNorm <= 0) throw new ValueError(op, `maxNorm must be a positive number, got ${String(maxNorm)}`);
  const grads: Tensor[] = [];
  params.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new ArgumentTypeError(op, `params[${i}] must be a Tensor`);
    const g = contiguousGrad(p);
    if (g) grads.push(g);
  });
  if (grads.length === 0) return 0;
  const norm = native.clipGradNorm(
    grads.map((g) => g.handle),
    maxNorm,
  );
  verified = new WeakSet();
  if (Number.isFinite(norm)) for (const g of grads) verified.add(g);
  return norm;
}

/** The total 2-norm of the gradients of `params` (NaN or Infinity when one holds NaN or Inf); nothing is scaled. */
export function gradNorm(params: readonly Tensor[]): number {
  return clipGradNorm(params, Infinity);
}
