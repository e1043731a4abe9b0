/** Linear: y = x·Wᵀ + b with W [out, in], bias and an optional residual fused into the GEMM epilogue. */
import type { Device, FloatDType } from '../dtype.js';
import { ShapeError } from '../errors.js';
import { matmul } from '../ops/matmul.js';
import { zeros } from '../ops/creation.js';
import { checkInt, checkTensor } from '../ops/util.js';
import type { Tensor } from '../tensor.js';
import { initNormal, initUniform } from './init.js';
import { Module } from './module.js';
import { OptionReader } from './option_reader.js';

export interface LinearOptions {
  /** Learn a bias (default true); it starts at zero. */
  bias?: boolean;
  dtype?: FloatDType;
  device?: Device;
  /** Weights ~ Normal(0, std²); without it Uniform(±1/√in), PyTorch's default bound. */
  std?: number;
  seed?: number;
}

const LINEAR_KEYS: readonly (keyof LinearOptions)[] = ['bias', 'dtype', 'device', 'std', 'seed'];

export function checkSize(op: string, name: string, n: unknown): number {
  checkInt(op, name, n);
  if ((n as number) < 1) throw new ShapeError(op, `${name} must be at least 1, got ${n}`);
  return n as number;
}

export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly hasBias: boolean;

  constructor(inFeatures: number, outFeatures: number, opts: LinearOptions = {}) {
    super();
    const o = new OptionReader('Linear', opts, LINEAR_KEYS);
    this.inFeatures = checkSize('Linear', 'inFeatures', inFeatures);
    this.outFeatures = checkSize('Linear', 'outFeatures', outFeatures);
    this.hasBias = o.bool('bias', true);
    const std = o.number('std', { min: 0 });
    const init = o.init();
    const shape = [outFeatures, inFeatures];
    this.registerParameter('weight', std === undefined ? initUniform(shape, 1 / Math.sqrt(inFeatures), init) : initNormal(shape, std, init));
    if (this.hasBias) this.registerParameter('bias', zeros([outFeatures], { dtype: init.dtype, device: init.device }));
  }

  /** [out, in] */
  get weight(): Tensor {
    return this.param('weight');
  }

  get bias(): Tensor | null {
    return this.hasBias ? this.param('bias') : null;
  }

  /** x [..., in] -> [..., out]; `residual` ([..., out]) is added in the same GEMM pass. */
  forward(x: Tensor, residual?: Tensor): Tensor {
    checkTensor('Linear', 'x', x);
    const w = this.weight;
    if (x.ndim === 0 || x.shape[x.ndim - 1] !== this.inFeatures)
      throw new ShapeError('Linear', `input must be [..., ${this.inFeatures}], got [${x.shape.join(', ')}]`);
    const wt = w.T;
    try {
      const bias = this.bias;
      return matmul(x, wt, { ...(bias ? { bias } : {}), ...(residual ? { residual } : {}) });
    } finally {
      wt.dispose(); // the product's graph holds its own alias
    }
  }
}
