/** Block: a pre-norm transformer block, x + attn(norm(x)), then + mlp(norm(x)). */
import type { Device, FloatDType } from '../dtype.js';
import { ValueError } from '../errors.js';
import { tidy } from '../memory.js';
import type { AttentionPosition, RopePairing } from '../ops/layers.js';
import type { Tensor } from '../tensor.js';
import { CausalSelfAttention, type KVCache } from './attention.js';
import { Dropout } from './dropout.js';
import { seedFor } from './init.js';
import { MLP, type MLPActivation } from './mlp.js';
import { Module } from './module.js';
import { LayerNorm, RMSNorm } from './norm.js';
import { getDefaultDevice } from '../ops/util.js';

export type NormKind = 'layernorm' | 'rmsnorm';
export const NORMS: readonly NormKind[] = ['layernorm', 'rmsnorm'];

export interface BlockOptions {
  dim: number;
  heads: number;
  kvHeads?: number;
  position?: AttentionPosition;
  ropeBase?: number;
  ropePairing?: RopePairing;
  activation: MLPActivation;
  mlpHidden: number;
  norm?: NormKind;
  /** Default 1e-5 for layernorm, 1e-6 for rmsnorm. */
  normEps?: number;
  /** Dropout on each residual branch (default 0). */
  dropout?: number;
  /** Biases in the projections and in LayerNorm (default true). */
  bias?: boolean;
  dtype?: FloatDType;
  device?: Device;
  std?: number;
  projStd?: number;
  seed?: number;
}

/** The norm module of a config; shared by Block and GPT's final norm. */
export function makeNorm(kind: NormKind, dim: number, opts: { eps?: number; bias?: boolean; dtype?: FloatDType; device?: Device }): LayerNorm | RMSNorm {
  const o = { dtype: opts.dtype ?? 'float32', device: opts.device ?? getDefaultDevice(), ...(opts.eps === undefined ? {} : { eps: opts.eps }) } as const;
  if (kind === 'layernorm') return new LayerNorm(dim, { ...o, bias: opts.bias ?? true });
  if (kind === 'rmsnorm') return new RMSNorm(dim, o);
  throw new ValueError('norm', `unknown norm ${JSON.stringify(kind)} (expected one of: ${NORMS.join(', ')})`);
}

export class Block extends Module {
  readonly norm1: LayerNorm | RMSNorm;
  readonly attn: CausalSelfAttention;
  readonly norm2: LayerNorm | RMSNorm;
  readonly mlp: MLP;
  readonly drop: Dropout;

  constructor(opts: BlockOptions) {
    super();
    const child = (name: string): number | undefined => (opts.seed === undefined ? undefined : seedFor(opts.seed, name));
    const tensorOpts = { dtype: opts.dtype ?? 'float32', device: opts.device ?? getDefaultDevice() } as const;
    const init = { ...(opts.std === undefined ? {} : { std: opts.std }), ...(opts.projStd === undefined ? {} : { projStd: opts.projStd }) };
    const normOpts = { ...tensorOpts, bias: opts.bias ?? true, ...(opts.normEps === undefined ? {} : { eps: opts.normEps }) };
    this.norm1 = this.registerModule('norm1', makeNorm(opts.norm ?? 'layernorm', opts.dim, normOpts));
    this.attn = this.registerModule('attn', new CausalSelfAttention({
      dim: opts.dim, heads: opts.heads, kvHeads: opts.kvHeads ?? opts.heads, position: opts.position ?? 'none',
      ropeBase: opts.ropeBase ?? 10000, ropePairing: opts.ropePairing ?? 'half', bias: opts.bias ?? true, ...tensorOpts, ...init,
      seed: child('attn'),
    }));
    this.norm2 = this.registerModule('norm2', makeNorm(opts.norm ?? 'layernorm', opts.dim, normOpts));
    this.mlp = this.registerModule('mlp', new MLP({
      dim: opts.dim, hidden: opts.mlpHidden, activation: opts.activation, bias: opts.bias ?? true, ...tensorOpts, ...init, seed: child('mlp'),
    }));
    this.drop = this.registerModule('drop', new Dropout(opts.dropout ?? 0, { ...(opts.seed === undefined ? {} : { seed: child('drop') }) }));
  }

  /** x [B, T, dim] -> [B, T, dim]. Without active dropout the residual adds fuse into the projections' GEMMs. */
  forward(x: Tensor, opts: { cache?: KVCache } = {}): Tensor {
    const cache = opts.cache ? { cache: opts.cache } : {};
    return tidy(() => {
      let h: Tensor;
      if (this.drop.active) {
        h = x.add(this.drop.forward(this.attn.forward(this.norm1.forward(x), cache)));
        return h.add(this.drop.forward(this.mlp.forward(this.norm2.forward(h))));
      }
      h = this.attn.forward(this.norm1.forward(x), { ...cache, residual: x });
      return this.mlp.forward(this.norm2.forward(h), h);
    });
  }
}
