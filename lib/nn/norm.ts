/** LayerNorm and RMSNorm over the last dimension, with weights starting at one (and bias at zero). */
import type { Device, FloatDType } from '../dtype.js';
import { ValueError } from '../errors.js';
import { ones, zeros } from '../ops/creation.js';
import { layerNorm, rmsNorm } from '../ops/layers.js';
import type { Tensor } from '../tensor.js';
import { checkSize } from './linear.js';
import { Module } from './module.js';
import { getDefaultDevice } from '../ops/util.js';

export interface NormOptions {
  eps?: number;
  dtype?: FloatDType;
  device?: Device;
}

function checkEps(op: string, eps: number): number {
  if (typeof eps !== 'number' || !(eps >= 0) || !Number.isFinite(eps)) throw new ValueError(op, `eps must be a non-negative finite number, got ${eps}`);
  return eps;
}

export class LayerNorm extends Module {
  readonly dim: number;
  readonly eps: number;
  readonly hasBias: boolean;

  /** eps defaults to 1e-5; `bias: false` drops the additive term (as in some GPT variants). */
  constructor(dim: number, opts: NormOptions & { bias?: boolean } = {}) {
    super();
    this.dim = checkSize('LayerNorm', 'dim', dim);
    this.eps = checkEps('LayerNorm', opts.eps ?? 1e-5);
    this.hasBias = opts.bias ?? true;
    const o = { dtype: opts.dtype ?? 'float32', device: opts.device ?? getDefaultDevice() } as const;
    this.registerParameter('weight', ones([dim], o));
    if (this.hasBias) this.registerParameter('bias', zeros([dim], o));
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

  /** eps defaults to 1e-6 (LLaMA's and T5's). */
  constructor(dim: number, opts: NormOptions = {}) {
    super();
    this.dim = checkSize('RMSNorm', 'dim', dim);
    this.eps = checkEps('RMSNorm', opts.eps ?? 1e-6);
    this.registerParameter('weight', ones([dim], { dtype: opts.dtype ?? 'float32', device: opts.device ?? getDefaultDevice() }));
  }

  get weight(): Tensor {
    return this.param('weight');
  }

  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}
