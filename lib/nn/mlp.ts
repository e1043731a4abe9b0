/** MLP: up-projection, activation (plain or gated), down-projection. */
import type { Device, FloatDType } from '../dtype.js';
import { ValueError } from '../errors.js';
import { tidy } from '../memory.js';
import { activation, ACTIVATIONS, gatedActivation, GATED_ACTIVATIONS, type ActivationKind, type GatedKind } from '../ops/layers.js';
import type { Tensor } from '../tensor.js';
import { seedFor } from './init.js';
import { checkSize, Linear } from './linear.js';
import { Module } from './module.js';
import { getDefaultDevice } from '../ops/util.js';

export type MLPActivation = ActivationKind | GatedKind;
export const MLP_ACTIVATIONS: readonly MLPActivation[] = [...ACTIVATIONS, ...GATED_ACTIVATIONS];

export function isGated(a: MLPActivation): a is GatedKind {
  return (GATED_ACTIVATIONS as readonly string[]).includes(a);
}

export interface MLPOptions {
  dim: number;
  /** Width of the activation (h); a gated MLP's up-projection is 2h wide. */
  hidden: number;
  activation: MLPActivation;
  bias?: boolean;
  dtype?: FloatDType;
  device?: Device;
  /** Init std of the up-projection (default: Linear's uniform init). */
  std?: number;
  /** Init std of the down-projection, a residual branch (default: std). */
  projStd?: number;
  seed?: number;
}

export class MLP extends Module {
  readonly activation: MLPActivation;
  readonly hidden: number;
  /** dim -> hidden (2·hidden for gated activations: [gate, value] halves, see gatedActivation). */
  readonly fc: Linear;
  /** hidden -> dim */
  readonly proj: Linear;

  constructor(opts: MLPOptions) {
    super();
    if (!(MLP_ACTIVATIONS as readonly unknown[]).includes(opts.activation))
      throw new ValueError('MLP', `unknown activation ${JSON.stringify(opts.activation)} (expected one of: ${MLP_ACTIVATIONS.join(', ')})`);
    this.activation = opts.activation;
    const dim = checkSize('MLP', 'dim', opts.dim);
    this.hidden = checkSize('MLP', 'hidden', opts.hidden);
    const child = (name: string): number | undefined => (opts.seed === undefined ? undefined : seedFor(opts.seed, name));
    const common = { bias: opts.bias ?? true, dtype: opts.dtype ?? 'float32', device: opts.device ?? getDefaultDevice() } as const;
    const up = isGated(this.activation) ? 2 * this.hidden : this.hidden;
    const std = opts.std, projStd = opts.projStd ?? opts.std;
    this.fc = this.registerModule('fc', new Linear(dim, up, { ...common, ...(std === undefined ? {} : { std }), seed: child('fc') }));
    this.proj = this.registerModule('proj', new Linear(this.hidden, dim, { ...common, ...(projStd === undefined ? {} : { std: projStd }), seed: child('proj') }));
  }

  /** x [..., dim] -> [..., dim]; `residual` is added inside the down-projection's GEMM. */
  forward(x: Tensor, residual?: Tensor): Tensor {
    return tidy(() => {
      const h = this.fc.forward(x);
      const a = isGated(this.activation) ? gatedActivation(h, this.activation) : activation(h, this.activation);
      return this.proj.forward(a, residual);
    });
  }
}
