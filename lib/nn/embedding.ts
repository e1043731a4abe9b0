/** Embedding: a [num, dim] table whose rows are gathered by int32 indices. */
import type { Device, FloatDType } from '../dtype.js';
import { embedding } from '../ops/embedding.js';
import type { Tensor } from '../tensor.js';
import { initNormal } from './init.js';
import { checkSize } from './linear.js';
import { Module } from './module.js';
import { getDefaultDevice } from '../ops/util.js';

export interface EmbeddingOptions {
  dtype?: FloatDType;
  device?: Device;
  /** Rows ~ Normal(0, std²), default 1 (PyTorch's default). */
  std?: number;
  seed?: number;
}

export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly dim: number;

  constructor(numEmbeddings: number, dim: number, opts: EmbeddingOptions = {}) {
    super();
    this.numEmbeddings = checkSize('Embedding', 'numEmbeddings', numEmbeddings);
    this.dim = checkSize('Embedding', 'dim', dim);
    const init = { dtype: opts.dtype ?? 'float32', device: opts.device ?? getDefaultDevice(), ...(opts.seed === undefined ? {} : { seed: opts.seed }) } as const;
    this.registerParameter('weight', initNormal([numEmbeddings, dim], opts.std ?? 1, init));
  }

  /** [numEmbeddings, dim] */
  get weight(): Tensor {
    return this.param('weight');
  }

  /** indices int32 [...] -> [..., dim] */
  forward(indices: Tensor<'int32'>): Tensor {
    return embedding(this.weight, indices);
  }
}
