/** MLP: up-projection, activation (plain or gated), down-projection. */
import type { Device, FloatDType } from '../dtype.js';
import { tidy } from '../memory.js';
import { activation, ACTIVATIONS, gatedActivation, GATED_ACTIVATIONS, type ActivationKind, type GatedKind } from '../ops/activation.js';
import type { Tensor } from '../tensor.js';
import { seedFor } from './init.js';
import { checkSize, Linear } from './linear.js';
import { Module } from './module.js';
import { OptionReader } from './option_reader.js';
import { checkTensor } from '../ops/util.js';

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

const MLP_KEYS: readonly (keyof MLPOptions)[] = ['dim', 'hidden', 'activation', 'bias', 'dtype', 'device', 'std', 'projStd', 'seed'];

export class MLP extends Module {
  readonly activation: MLPActivation;
  readonly hidden: number;
  /** dim -> hidden (2·hidden for gated activations: [gate, value] halves, see gatedActivation). */
  readonly fc: Linear;
  /** hidden -> dim */
  readonly proj: Linear;

  constructor(opts: MLPOptions) {
    super();
    const o = new OptionReader('MLP', opts, MLP_KEYS, { required: true });
    this.activation = o.oneOf('activation', MLP_ACTIVATIONS);
    const dim = checkSize('MLP', 'dim', o.get('dim'));
    this.hidden = checkSize('MLP', 'hidden', o.get('hidden'));
    const seed = o.seed();
    const child = (name: string): number | undefined => (seed === undefined ? undefined : seedFor(seed, name));
    const common = { bias: o.bool('bias', true), dtype: o.dtype(), device: o.device() };
    const up = isGated(this.activation) ? 2 * this.hidden : this.hidden;
    const std = o.number('std', { min: 0 }), projStd = o.number('projStd', { min: 0 }) ?? std;
    this.fc = this.registerModule('fc', new Linear(dim, up, { ...common, std, seed: child('fc') }));
    this.proj = this.registerModule('proj', new Linear(this.hidden, dim, { ...common, std: projStd, seed: child('proj') }));
  }

  /** x [..., dim] -> [..., dim]; `residual` is added inside the down-projection's GEMM. */
  forward(x: Tensor, residual?: Tensor): Tensor {
    checkTensor('MLP', 'x', x);
    return tidy(() => {
      const h = this.fc.forward(x);
      const a = isGated(this.activation) ? gatedActivation(h, this.activation) : activation(h, this.activation);
      return this.proj.forward(a, residual);
    });
  }
}
