/** Block: a pre-norm transformer block, x + attn(norm(x)), then + mlp(norm(x)). */
import type { Device, FloatDType } from '../dtype.js';
import { ValueError } from '../errors.js';
import { tidy } from '../memory.js';
import type { AttentionPosition } from '../ops/attention.js';
import type { RopePairing } from '../ops/rope.js';
import type { Tensor } from '../tensor.js';
import { CausalSelfAttention, type KVCache } from './attention.js';
import { Dropout } from './dropout.js';
import { seedFor } from './init.js';
import { MLP, type MLPActivation } from './mlp.js';
import { Module } from './module.js';
import { LayerNorm, RMSNorm } from './norm.js';
import { checkTensor, showValue } from '../ops/util.js';
import { checkSize } from './linear.js';
import { OptionReader } from './option_reader.js';

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
  /** Default LAYER_DEFAULTS' eps of the norm. */
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
export function makeNorm(kind: NormKind, dim: number, opts: { eps?: number; bias?: boolean; dtype?: FloatDType; device?: Device } = {}): LayerNorm | RMSNorm {
  const op = 'makeNorm';
  const o = new OptionReader(op, opts, ['eps', 'bias', 'dtype', 'device']);
  // bias is LayerNorm's alone (an RMSNorm has none), so that one config builds either kind.
  const bias = o.bool('bias', true);
  const common = { eps: o.get('eps') as number | undefined, dtype: o.dtype(), device: o.device() };
  if (kind === 'layernorm') return new LayerNorm(dim, { ...common, bias });
  if (kind === 'rmsnorm') return new RMSNorm(dim, common);
  throw new ValueError(op, `unknown norm ${showValue(kind)} (expected one of: ${NORMS.join(', ')})`);
}

const BLOCK_KEYS: readonly (keyof BlockOptions)[] = [
  'dim', 'heads', 'kvHeads', 'position', 'ropeBase', 'ropePairing', 'activation', 'mlpHidden', 'norm', 'normEps', 'dropout', 'bias',
  'dtype', 'device', 'std', 'projStd', 'seed',
];

export class Block extends Module {
  readonly norm1: LayerNorm | RMSNorm;
  readonly attn: CausalSelfAttention;
  readonly norm2: LayerNorm | RMSNorm;
  readonly mlp: MLP;
  readonly drop: Dropout;

  constructor(opts: BlockOptions) {
    super();
    // Checked here, the options Block uses itself; the rest (dim, heads, kvHeads, position, ropeBase,
    // ropePairing, activation) pass to CausalSelfAttention and MLP, which check them.
    const o = new OptionReader('Block', opts, BLOCK_KEYS, { required: true });
    const seed = o.seed();
    const child = (name: string): number | undefined => (seed === undefined ? undefined : seedFor(seed, name));
    const common = { bias: o.bool('bias', true), dtype: o.dtype(), device: o.device() };
    const init = { std: o.number('std', { min: 0 }), projStd: o.number('projStd', { min: 0 }) };
    const norm = o.oneOf('norm', NORMS, 'layernorm');
    const normOpts = { ...common, eps: o.number('normEps', { min: 0 }) };
    const mlpHidden = checkSize('Block', 'mlpHidden', o.get('mlpHidden'));
    const dropout = o.number('dropout', { min: 0, below: 1 }, 0);
    this.norm1 = this.registerModule('norm1', makeNorm(norm, opts.dim, normOpts));
    // position, ropeBase and ropePairing default in CausalSelfAttention.
    this.attn = this.registerModule('attn', new CausalSelfAttention({
      dim: opts.dim, heads: opts.heads, kvHeads: opts.kvHeads, position: opts.position, ropeBase: opts.ropeBase,
      ropePairing: opts.ropePairing, ...common, ...init, seed: child('attn'),
    }));
    this.norm2 = this.registerModule('norm2', makeNorm(norm, opts.dim, normOpts));
    this.mlp = this.registerModule('mlp', new MLP({ dim: opts.dim, hidden: mlpHidden, activation: opts.activation, ...common, ...init, seed: child('mlp') }));
    this.drop = this.registerModule('drop', new Dropout(dropout, { seed: child('drop') }));
  }

  /** x [B, T, dim] -> [B, T, dim]. Without active dropout the residual adds fuse into the projections' GEMMs. */
  forward(x: Tensor, opts: { cache?: KVCache; docIds?: Tensor<'int32'> } = {}): Tensor {
    checkTensor('Block', 'x', x);
    const o = new OptionReader('Block', opts, ['cache', 'docIds']);
    const c = o.get('cache') as KVCache | undefined, docIds = o.get('docIds') as Tensor<'int32'> | undefined;
    const cache = { ...(c ? { cache: c } : {}), ...(docIds ? { docIds } : {}) };
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
