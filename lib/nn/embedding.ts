/** Embedding: a [num, dim] table whose rows are gathered by int32 indices. */
import type { Device, FloatDType } from '../dtype.js';
import { embedding } from '../ops/embedding.js';
import type { Tensor } from '../tensor.js';
import { initNormal } from './init.js';
import { checkSize } from './linear.js';
import { Module } from './module.js';
import { OptionReader } from './option_reader.js';

export interface EmbeddingOptions {
  dtype?: FloatDType;
  device?: Device;
  /** Rows ~ Normal(0, std²), default 1 (PyTorch's default). */
  std?: number;
  seed?: number;
}

const EMBEDDING_KEYS: readonly (keyof EmbeddingOptions)[] = ['dtype', 'device', 'std', 'seed'];

export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly dim: number;

  constructor(numEmbeddings: number, dim: number, opts: EmbeddingOptions = {}) {
    super();
    const o = new OptionReader('Embedding', opts, EMBEDDING_KEYS);
    this.numEmbeddings = checkSize('Embedding', 'numEmbeddings', numEmbeddings);
    this.dim = checkSize('Embedding', 'dim', dim);
    this.registerParameter('weight', initNormal([numEmbeddings, dim], o.number('std', { min: 0 }, 1), o.init()));
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
