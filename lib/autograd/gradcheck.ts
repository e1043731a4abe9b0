/**
 * gradcheck: compares the gradients backward() computes with central finite differences, in float64.
 * Rather than the whole Jacobian it checks directional derivatives: for a random output direction u and
 * random input directions v, d/de <u, f(x + e v)> at e = 0 must equal sum_i <grad_i(<u, f>), v_i>.
 * Each input is also checked alone, so a wrong rule is pinned to its input.
 */
import { ArgumentTypeError, checkFunction, describe, DTypeError, ValueError } from '../errors.js';
import { tidy } from '../memory.js';
import { randn } from '../ops/creation.js';
import { checkTensor } from '../ops/util.js';
import { Tensor } from '../tensor.js';
import { enableGrad, noGrad } from './grad_mode.js';

export interface GradcheckOptions {
  /** Finite-difference step (default 1e-6). */
  eps?: number;
  /** Allowed |analytic - numeric| is atol + rtol * |numeric| (defaults 1e-6 and 1e-4). */
  atol?: number;
  rtol?: number;
  /** Random directions per check (default 2). */
  directions?: number;
  seed?: number;
}

export interface GradcheckResult {
  ok: boolean;
  /** One line per failed comparison. */
  failures: string[];
  /** Largest |analytic - numeric| / (atol + rtol * |numeric|) seen; <= 1 passes. */
  worst: number;
}

function dot(a: Tensor, b: Tensor): number {
  return tidy(() => a.mul(b).sum().item());
}

/**
 * Checks fn's gradients at `inputs` (float64 tensors; those with requiresGrad are checked). fn returns
 * a tensor (or an array of tensors, concatenated for the check) and must be deterministic.
 */
export function gradcheck(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradcheckOptions = {}): GradcheckResult {
  checkFunction('gradcheck', 'fn', fn);
  if (!Array.isArray(inputs)) throw new ArgumentTypeError('gradcheck', `inputs must be an array of Tensors, got ${describe(inputs)}`);
  inputs.forEach((x, i) => checkTensor('gradcheck', `inputs[${i}]`, x));
  const { eps = 1e-6, atol = 1e-6, rtol = 1e-4, directions = 2, seed = 1234 } = opts;
  if (!inputs.some((x) => x.requiresGrad)) throw new ValueError('gradcheck', 'no input requires a gradient');
  for (const x of inputs)
    if (x.requiresGrad && x.dtype !== 'float64') throw new DTypeError('gradcheck', `inputs must be float64 (finite differences need it), got ${x.dtype}`);
  const checked = inputs.map((x, i) => (x.requiresGrad ? i : -1)).filter((i) => i >= 0);
  const failures: string[] = [];
  let worst = 0;
  let s = seed;
  for (let d = 0; d < directions; d++) {
    tidy(() => {
      const leaves = inputs.map((x) => (x.requiresGrad ? x.detach().setRequiresGrad() : x));
      const out = enableGrad(() => fn(...leaves));
      if (!(out instanceof Tensor)) throw new ValueError('gradcheck', 'fn must return a Tensor');
      if (out.dtype !== 'float64') throw new DTypeError('gradcheck', `fn must return a float64 tensor, got ${out.dtype}`);
      const u = randn(out.shape, { dtype: 'float64', seed: s++ });
      if (!out.requiresGrad) throw new ValueError('gradcheck', 'the output does not depend on any input that requires a gradient');
      out.backward(u);
      const v = inputs.map((x) => randn(x.shape, { dtype: 'float64', seed: s++ }));
      const analytic = checked.map((i) => {
        const g = leaves[i]!.grad;
        return g ? dot(g, v[i]!) : 0;
      });
      for (const l of leaves) l.zeroGrad();
      // Each input alone, then all together.
      const sets = [...checked.map((i) => [i]), checked];
      for (const set of sets) {
        const numeric = noGrad(() => {
          const f = (sign: number): number =>
            tidy(() => {
              const xs = inputs.map((x, i) => (set.includes(i) ? x.add(v[i]!.mul(sign * eps)) : x));
              return dot(fn(...xs), u);
            });
          return (f(1) - f(-1)) / (2 * eps);
        });
        const an = set.reduce((acc, i) => acc + analytic[checked.indexOf(i)]!, 0);
        const ratio = Math.abs(an - numeric) / (atol + rtol * Math.abs(numeric));
        worst = Math.max(worst, ratio);
        if (!(ratio <= 1))
          failures.push(`inputs [${set.join(', ')}], direction ${d}: analytic ${an} vs numeric ${numeric}`);
      }
    });
  }
  return { ok: failures.length === 0, failures, worst };
}
