/** How ops put themselves on the tape: needsGrad() to decide, save() for backward inputs, attach(). */
import { withoutScope } from '../memory.js';
import { native } from '../native.js';
import { Tensor } from '../tensor.js';
import { isGradEnabled } from './grad_mode.js';
import { GradNode } from './node.js';

/** True when recording is on and some argument is a tensor that requires a gradient. */
export function needsGrad(...xs: unknown[]): boolean {
  if (!isGradEnabled()) return false;
  for (const x of xs) if (x instanceof Tensor && x.requiresGrad) return true;
  return false;
}

/**
 * A private alias of t (same storage, same strides) for a backward rule. It belongs to no tidy() scope, so
 * a scope that frees t does not free what the graph still needs; the graph disposes it when released.
 * An identity permute, not a reshape: a reshape of a strided view (a Linear's transposed weight) copies.
 */
export function save<T extends Tensor>(t: T): T {
  return withoutScope(() => new Tensor(native.permute(t.handle, t.shape.map((_, i) => i)))) as T;
}

/**
 * Records out = op(inputs): the rule maps out's gradient to one gradient per input. Inputs that are not
 * tensors requiring a gradient get none. Returns out, now requiring a gradient.
 */
export function attach<T extends Tensor>(
  name: string,
  out: T,
  inputs: unknown[],
  rule: (grad: Tensor) => (Tensor | null | undefined)[],
  saved: Tensor[] = [],
): T {
  const ins = inputs.map((x) => (x instanceof Tensor && x.requiresGrad ? x : null));
  out.setGradNode(new GradNode(name, ins, rule as (g: unknown) => (Tensor | null | undefined)[], saved) as GradNode);
  return out;
}
