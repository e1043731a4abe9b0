/** LayerNorm and RMSNorm over the last dimension, with weights starting at one (and bias at zero). */
import type { Device, FloatDType } from '../dtype.js';
import { ones, zeros } from '../ops/creation.js';
import { layerNorm, readEps, rmsNorm } from '../ops/norm.js';
import type { Tensor } from '../tensor.js';
import { checkSize } from './linear.js';
import { Module } from './module.js';
import { OptionReader } from './option_reader.js';
import { LAYER_DEFAULTS } from '../ops/util.js';

export interface NormOptions {
  eps?: number;
  dtype?: FloatDType;
  device?: Device;
}

const NORM_KEYS: readonly (keyof NormOptions)[] = ['eps', 'dtype', 'device'];

export class LayerNorm extends Module {
  readonly dim: number;
  readonly eps: number;
  readonly hasBias: boolean;

  /** eps defaults to LAYER_DEFAULTS.layerNormEps (1e-5); `bias: false` drops the additive term (as in some GPT variants). */
  constructor(dim: number, opts: NormOptions & { bias?: boolean } = {}) {
    super();
    const o = new OptionReader('LayerNorm', opts, [...NORM_KEYS, 'bias']);
    this.dim = checkSize('LayerNorm', 'dim', dim);
    this.eps = readEps('LayerNorm', o.get('eps') ?? LAYER_DEFAULTS.layerNormEps);
    this.hasBias = o.bool('bias', true);
    const t = { dtype: o.dtype(), device: o.device() };
    this.registerParameter('weight', ones([dim], t));
    if (this.hasBias) this.registerParameter('bias', zeros([dim], t));
  }

  get weight(): Tensor {
    return this.param('weight');
  }

  get bias(): Tensor | null {
    return this.hasBias ? this.param('bias') : null;
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

export class RMSNorm extends Module {
  readonly dim: number;
  readonly eps: number;

  /** eps defaults to LAYER_DEFAULTS.rmsNormEps (1e-6, LLaMA's and T5's). */
  constructor(dim: number, opts: NormOptions = {}) {
    super();
    const o = new OptionReader('RMSNorm', opts, NORM_KEYS);
    this.dim = checkSize('RMSNorm', 'dim', dim);
    this.eps = readEps('RMSNorm', o.get('eps') ?? LAYER_DEFAULTS.rmsNormEps);
    this.registerParameter('weight', ones([dim], { dtype: o.dtype(), device: o.device() }));
  }

  get weight(): Tensor {
    return this.param('weight');
  }

  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}
