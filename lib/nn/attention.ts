/**
 * CausalSelfAttention: a fused q/k/v projection, grouped-query heads, RoPE or ALiBi (or neither), the
 * attention op, and the output projection; plus the KV cache that generation writes into.
 */
import type { Device, FloatDType } from '../dtype.js';
import { ShapeError, ValueError } from '../errors.js';
import { noGrad } from '../autograd/grad_mode.js';
import { keep, tidy, withoutScope } from '../memory.js';
import { zeros } from '../ops/creation.js';
import { attention, rope, type AttentionPosition, type RopePairing } from '../ops/layers.js';
import { copyInto } from '../ops/views.js';
import type { Tensor } from '../tensor.js';
import { seedFor } from './init.js';
import { checkSize, Linear } from './linear.js';
import { Module } from './module.js';
import { getDefaultDevice } from '../ops/util.js';

/**
 * Keys and values of past positions for one attention layer, preallocated at full length
 * ([B, Hkv, capacity, Dh]) and written in place, so a generation step costs no reallocation.
 */
export class KVCache {
  readonly k: Tensor;
  readonly v: Tensor;
  readonly capacity: number;
  /** Positions written so far; the next append starts here. */
  length = 0;

  constructor(batch: number, kvHeads: number, capacity: number, headDim: number, opts: { dtype?: FloatDType; device?: Device } = {}) {
    const o = { dtype: opts.dtype ?? 'float32', device: opts.device ?? getDefaultDevice() } as const;
    this.capacity = checkSize('KVCache', 'capacity', capacity);
    // Outside every tidy() scope: the cache outlives the steps that write it.
    [this.k, this.v] = withoutScope(() => [keep(zeros([batch, kvHeads, capacity, headDim], o)), keep(zeros([batch, kvHeads, capacity, headDim], o))]);
  }

  /**
   * Writes k and v ([B, Hkv, T, Dh]) at positions [length, length + T) and returns views of everything
   * cached so far. The write is not recorded by autograd: generation runs under noGrad().
   */
  append(k: Tensor, v: Tensor): [Tensor, Tensor] {
    const T = k.shape[2]!;
    if (this.length + T > this.capacity)
      throw new ShapeError('KVCache', `appending ${T} positions to ${this.length} exceeds the capacity ${this.capacity}`);
    noGrad(() => {
      copyInto(this.k.slice(2, this.length, this.length + T), k);
      copyInto(this.v.slice(2, this.length, this.length + T), v);
    });
    this.length += T;
    return [this.k.slice(2, 0, this.length), this.v.slice(2, 0, this.length)];
  }

  dispose(): void {
    this.k.dispose();
    this.v.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

export interface CausalSelfAttentionOptions {
  dim: number;
  heads: number;
  /** Key/value heads (grouped-query attention); must divide heads. Default heads. */
  kvHeads?: number;
  /** Default 'none' (a GPT with learned positions adds them to the embeddings instead). */
  position?: AttentionPosition;
  ropeBase?: number;
  ropePairing?: RopePairing;
  /** Biases in both projections (default true). */
  bias?: boolean;
  dtype?: FloatDType;
  device?: Device;
  /** Init std of the q/k/v projection (default: Linear's uniform init). */
  std?: number;
  /** Init std of the output projection, a residual branch (default: std). */
  projStd?: number;
  seed?: number;
}

export interface AttentionForwardOptions {
  /** Past keys and values: this call's positions start at cache.length. */
  cache?: KVCache;
  /** Added to the output inside the projection's GEMM (the block's residual stream). */
  residual?: Tensor;
}

export class CausalSelfAttention extends Module {
  readonly dim: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly position: AttentionPosition;
  readonly ropeBase: number;
  readonly ropePairing: RopePairing;
  readonly qkv: Linear;
  readonly proj: Linear;

  constructor(opts: CausalSelfAttentionOptions) {
    super();
    const op = 'CausalSelfAttention';
    this.dim = checkSize(op, 'dim', opts.dim);
    this.heads = checkSize(op, 'heads', opts.heads);
    this.kvHeads = checkSize(op, 'kvHeads', opts.kvHeads ?? opts.heads);
    if (this.dim % this.heads !== 0) throw new ValueError(op, `dim ${this.dim} is not divisible by heads ${this.heads}`);
    if (this.heads % this.kvHeads !== 0) throw new ValueError(op, `kvHeads ${this.kvHeads} does not divide heads ${this.heads}`);
    this.headDim = this.dim / this.heads;
    this.position = opts.position ?? 'none';
    if (!['rope', 'alibi', 'none'].includes(this.position))
      throw new ValueError(op, `unknown position ${JSON.stringify(this.position)} (expected one of: rope, alibi, none)`);
    if (this.position === 'rope' && this.headDim % 2 !== 0)
      throw new ValueError(op, `RoPE needs an even head dimension, got dim ${this.dim} / heads ${this.heads} = ${this.headDim}`);
    this.ropeBase = opts.ropeBase ?? 10000;
    this.ropePairing = opts.ropePairing ?? 'half';
    const child = (name: string): number | undefined => (opts.seed === undefined ? undefined : seedFor(opts.seed, name));
    const common = { bias: opts.bias ?? true, dtype: opts.dtype ?? 'float32', device: opts.device ?? getDefaultDevice() } as const;
    const qkvOut = (this.heads + 2 * this.kvHeads) * this.headDim;
    const std = opts.std, projStd = opts.projStd ?? opts.std;
    this.qkv = this.registerModule('qkv', new Linear(this.dim, qkvOut, { ...common, ...(std === undefined ? {} : { std }), seed: child('qkv') }));
    this.proj = this.registerModule('proj', new Linear(this.dim, this.dim, { ...common, ...(projStd === undefined ? {} : { std: projStd }), seed: child('proj') }));
  }

  /**
   * A cache for this layer, for `batch` sequences of up to `capacity` positions, in the parameters' dtype
   * or in `dtype` (bfloat16 for a model that computes in mixed precision).
   */
  createCache(batch: number, capacity: number, dtype?: FloatDType): KVCache {
    const w = this.qkv.weight;
    return new KVCache(batch, this.kvHeads, capacity, this.headDim, { dtype: dtype ?? (w.dtype as FloatDType), device: w.device });
  }

  /** x [B, T, dim] -> [B, T, dim]. */
  forward(x: Tensor, opts: AttentionForwardOptions = {}): Tensor {
    const op = 'CausalSelfAttention';
    if (x.ndim !== 3 || x.shape[2] !== this.dim) throw new ShapeError(op, `input must be [B, T, ${this.dim}], got [${x.shape.join(', ')}]`);
    const [B, T] = x.shape as [number, number, number];
    const { cache, residual } = opts;
    const H = this.heads, Hkv = this.kvHeads, Dh = this.headDim;
    return tidy(() => {
      const qkv = this.qkv.forward(x);
      // [B, T, heads·Dh] column block -> [B, heads, T, Dh] (views: the reshape splits the last dim in place)
      const heads = (first: number, n: number): Tensor => qkv.slice(-1, first * Dh, (first + n) * Dh).reshape([B, T, n, Dh]).permute(0, 2, 1, 3);
      let q = heads(0, H), k = heads(H, Hkv), v = heads(H + Hkv, Hkv);
      if (this.position === 'rope') {
        const ro = { base: this.ropeBase, pairing: this.ropePairing, offset: cache?.length ?? 0 };
        q = rope(q, ro);
        k = rope(k, ro); // rotated before caching, so cached keys never need rotating again
      }
      if (cache) [k, v] = cache.append(k, v);
      const y = attention(q, k, v, { position: this.position, causal: true });
      return this.proj.forward(y.permute(0, 2, 1, 3).reshape([B, T, H * Dh]), residual);
    });
  }
}
