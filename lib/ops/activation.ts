/**
 * Activations, plain and gated: activation(), gatedActivation() and their kernel-level twins, each one
 * native kernel forward and one backward (native/kernels/activation.h); fp32 and bf16 compute in fp32,
 * float64 in double, float16 through float32 (viaFloat32).
 *
 * Where things are checked, once each: the public op and its kernel-level twin (fused*, every kernel
 * option, the kernel's own dtypes only; benches and tests use them) check what only JS sees (live Tensors,
 * option names, types and ranges) with the readers below, then call the *Kernel function, which checks
 * nothing more; the native op checks shapes, dtypes and devices. Defaults: LAYER_DEFAULTS (util.ts).
 *
 * Gated activations take x [..., 2h] and return [..., h] = act(x[..., :h]) * x[..., h:]: the first half
 * goes through the activation, the second half is the linear gate.
 */
import { attach, needsGrad, save } from '../autograd/record.js';
import type { DType } from '../dtype.js';
import { native } from '../native.js';
import type { Tensor } from '../tensor.js';
import { liveTensor, oneOf, viaFloat32, wrap } from './util.js';

/** relu, gelu (the exact x·Φ(x), with erf) or swish (x·sigmoid(x), also called SiLU). */
export type ActivationKind = 'relu' | 'gelu' | 'swish';
/** act(first half) · second half with act = sigmoid (glu), gelu (geglu), swish (swiglu) or relu (reglu). */
export type GatedKind = 'glu' | 'geglu' | 'swiglu' | 'reglu';
export const ACTIVATIONS: readonly ActivationKind[] = ['relu', 'gelu', 'swish'];
export const GATED_ACTIVATIONS: readonly GatedKind[] = ['glu', 'geglu', 'swiglu', 'reglu'];

/**
 * The fused activation kernel with its backward rule. `op` is the public function the user called, which
 * native errors name; `kind` is an ActivationKind or a GatedKind.
 */
export function activationKernel<D extends DType>(op: string, x: Tensor<D>, kind: ActivationKind | GatedKind): Tensor<D> {
  const y = wrap<D>(native.activation(kind, x.handle, op));
  if (!needsGrad(x)) return y;
  const sx = save(x);
  return attach(op, y, [x], (g) => [wrap(native.activationBackward(kind, g.handle, sx.handle, op))], [sx]);
}

// ---- activations ----

/** relu, gelu (exact, with erf) or swish (x·sigmoid(x), also called SiLU), elementwise. */
export function activation<D extends DType>(x: Tensor<D>, kind: ActivationKind): Tensor<D> {
  const op = 'activation';
  liveTensor(op, 'x', x);
  const k = oneOf(op, 'activation', kind, ACTIVATIONS);
  return viaFloat32<D>([x], ([x]) => activationKernel(op, x!, k));
}

/**
 * Gated linear units (Dauphin et al. 2017; Shazeer 2020): x [..., 2h] is split into halves [gate, value]
 * and the result [..., h] is act(gate) · value, with act = sigmoid (glu), gelu (geglu), swish (swiglu)
 * or relu (reglu). The FIRST half goes through the activation, as in the GLU-variants paper's
 * act(xW) ⊗ xV and LLaMA's act(gate_proj) · up_proj. (PyTorch's F.glu gates the other way round.)
 */
export function gatedActivation<D extends DType>(x: Tensor<D>, kind: GatedKind): Tensor<D> {
  const op = 'gatedActivation';
  liveTensor(op, 'x', x);
  const k = oneOf(op, 'activation', kind, GATED_ACTIVATIONS);
  return viaFloat32<D>([x], ([x]) => activationKernel(op, x!, k));
}

// ---- kernel-level entry points ----

/** relu, gelu (exact, with erf) or swish, elementwise: activation() without its float16 path. */
export function fusedActivation<D extends DType>(x: Tensor<D>, kind: ActivationKind): Tensor<D> {
  const op = 'fusedActivation';
  liveTensor(op, 'input', x);
  return activationKernel(op, x, oneOf(op, 'activation', kind, ACTIVATIONS));
}

/** glu, geglu, swiglu or reglu: [..., 2h] -> act(first half) * second half. */
export function fusedGatedActivation<D extends DType>(x: Tensor<D>, kind: GatedKind): Tensor<D> {
  const op = 'fusedGatedActivation';
  liveTensor(op, 'input', x);
  return activationKernel(op, x, oneOf(op, 'activation', kind, GATED_ACTIVATIONS));
}
