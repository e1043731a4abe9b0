/**
 * CausalSelfAttention: a fused q/k/v projection, grouped-query heads, RoPE or ALiBi (or neither), the
 * attention op, and the output projection; plus the KV cache that generation writes into.
 */
import type { Device, FloatDType } from '../dtype.js';
import { ArgumentTypeError, ShapeError, ValueError } from '../errors.js';
import { noGrad } from '../autograd/grad_mode.js';
import { keep, tidy, withoutScope } from '../memory.js';
import { zeros } from '../ops/creation.js';
import { alibiSlopes, attention, ATTENTION_DEFAULTS, ATTENTION_POSITIONS, qkvAttentionKernel, type AttentionPosition } from '../ops/attention.js';
import { rope, ROPE_PAIRINGS, type RopePairing } from '../ops/rope.js';
import { checkTensor, describe, LAYER_DEFAULTS, liveTensor } from '../ops/util.js';
import { copyInto } from '../ops/views.js';
import type { Tensor } from '../tensor.js';
import { seedFor } from './init.js';
import { checkSize, Linear } from './linear.js';
import { Module } from './module.js';
import { OptionReader } from './option_reader.js';

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
    const op = 'KVCache';
    const r = new OptionReader(op, opts, ['dtype', 'device']);
    checkSize(op, 'batch', batch);
    checkSize(op, 'kvHeads', kvHeads);
    this.capacity = checkSize(op, 'capacity', capacity);
    checkSize(op, 'headDim', headDim);
    const o = { dtype: r.dtype(), device: r.device() };
    // Outside every tidy() scope: the cache outlives the steps that write it.
    [this.k, this.v] = withoutScope(() => [keep(zeros([batch, kvHeads, capacity, headDim], o)), keep(zeros([batch, kvHeads, capacity, headDim], o))]);
  }

  /**
   * Writes k and v ([B, Hkv, T, Dh]) at positions [length, length + T) and returns views of everything
   * cached so far. The write is not recorded by autograd: generation runs under noGrad().
   */
  append(k: Tensor, v: Tensor): [Tensor, Tensor] {
    const op = 'KVCache.append';
    checkTensor(op, 'k', k);
    checkTensor(op, 'v', v);
    const [B, Hkv, , Dh] = this.k.shape as [number, number, number, number];
    const T = k.shape[2]!;
    const fits = (t: Tensor): boolean => t.ndim === 4 && t.shape[0] === B && t.shape[1] === Hkv && t.shape[2] === T && t.shape[3] === Dh;
    if (!fits(k) || !fits(v))
      throw new ShapeError(op, `k and v must both be [${B}, ${Hkv}, T, ${Dh}], got [${k.shape.join(', ')}] and [${v.shape.join(', ')}]`);
    if (this.length + T > this.capacity)
      throw new ShapeError(op, `appending ${T} positions to ${this.length} exceeds the capacity ${this.capacity}`);
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

/** RoPE rotates pairs of each head's dimensions: the head dimension dim / heads must be even. */
export function checkRopeHeadDim(op: string, dim: number, heads: number): void {
  const hd = dim / heads;
  if (hd % 2 !== 0) throw new ValueError(op, `position 'rope' needs an even head dimension, got dim ${dim} / heads ${heads} = ${hd}`);
}

export interface CausalSelfAttentionOptions {
  dim: number;
  heads: number;
  /** Key/value heads (grouped-query attention); must divide heads. Default heads. */
  kvHeads?: number;
  /** Default 'none' (a GPT with learned positions adds them to the embeddings instead). */
  position?: AttentionPosition;
  /** Defaults: LAYER_DEFAULTS (base 10000, pairing 'half'). */
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

const ATTENTION_KEYS: readonly (keyof CausalSelfAttentionOptions)[] = [
  'dim', 'heads', 'kvHeads', 'position', 'ropeBase', 'ropePairing', 'bias', 'dtype', 'device', 'std', 'projStd', 'seed',
];

export interface AttentionForwardOptions {
  /** Past keys and values: this call's positions start at cache.length. */
  cache?: KVCache;
  /** Added to the output inside the projection's GEMM (the block's residual stream). */
  residual?: Tensor;
  /** Packed documents: int32 [B, T] document ids; a query attends only to keys of its own document. */
  docIds?: Tensor<'int32'>;
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
    const o = new OptionReader(op, opts, ATTENTION_KEYS, { required: true });
    this.dim = checkSize(op, 'dim', o.get('dim'));
    this.heads = checkSize(op, 'heads', o.get('heads'));
    this.kvHeads = checkSize(op, 'kvHeads', o.get('kvHeads') ?? this.heads);
    if (this.dim % this.heads !== 0) throw new ValueError(op, `dim ${this.dim} is not divisible by heads ${this.heads}`);
    if (this.heads % this.kvHeads !== 0) throw new ValueError(op, `kvHeads ${this.kvHeads} does not divide heads ${this.heads}`);
    this.headDim = this.dim / this.heads;
    // Checked here, at construction, so that a bad config fails before the first forward.
    this.position = o.oneOf('position', ATTENTION_POSITIONS, ATTENTION_DEFAULTS.position);
    if (this.position === 'rope') checkRopeHeadDim(op, this.dim, this.heads);
    // The rope op's domain (a GPT config asks for more: base > 1).
    this.ropeBase = o.number('ropeBase', { above: 0 }, LAYER_DEFAULTS.ropeBase);
    this.ropePairing = o.oneOf('ropePairing', ROPE_PAIRINGS, LAYER_DEFAULTS.ropePairing);
    const seed = o.seed();
    const child = (name: string): number | undefined => (seed === undefined ? undefined : seedFor(seed, name));
    const common = { bias: o.bool('bias', true), dtype: o.dtype(), device: o.device() };
    const qkvOut = (this.heads + 2 * this.kvHeads) * this.headDim;
    const std = o.number('std', { min: 0 }), projStd = o.number('projStd', { min: 0 }) ?? std;
    this.qkv = this.registerModule('qkv', new Linear(this.dim, qkvOut, { ...common, std, seed: child('qkv') }));
    this.proj = this.registerModule('proj', new Linear(this.dim, this.dim, { ...common, std: projStd, seed: child('proj') }));
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
    checkTensor(op, 'x', x);
    const o = new OptionReader(op, opts, ['cache', 'residual', 'docIds']);
    const cache = o.get('cache'), residual = o.get('residual'), docIds = o.get('docIds') as Tensor<'int32'> | undefined;
    if (cache !== undefined && !(cache instanceof KVCache)) throw new ArgumentTypeError(op, `cache must be a KVCache, got ${describe(cache)}`);
    if (residual !== undefined) checkTensor(op, 'residual', residual);
    if (docIds !== undefined) liveTensor(op, 'docIds', docIds);
    if (x.ndim !== 3 || x.shape[2] !== this.dim) throw new ShapeError(op, `input must be [B, T, ${this.dim}], got [${x.shape.join(', ')}]`);
    const [B, T] = x.shape as [number, number, number];
    const H = this.heads, Hkv = this.kvHeads, Dh = this.headDim;
    // With a cache the keys run past this call's positions, so doc ids (one per position) do not apply.
    if (docIds !== undefined && cache) throw new ArgumentTypeError(op, 'docIds cannot be used with a cache');
    return tidy(() => {
      const qkv = this.qkv.forward(x);
      if (!cache && qkv.device === 'cpu' && qkv.dtype !== 'float16') {
        // Training and prompt processing on the CPU: q, k and v read in place from the projection, y written
        // as [B, T, H·Dh], and one q/k/v gradient (qkvAttentionKernel); no head split or merge copies.
        const rope = this.position === 'rope' ? { base: this.ropeBase, pairing: this.ropePairing, offset: 0, rotaryDims: 0 } : null;
        const args = { causal: true, scale: 1 / Math.sqrt(Dh), slopes: this.position === 'alibi' ? alibiSlopes(H) : null, docIds: docIds ?? null };
        return this.proj.forward(qkvAttentionKernel(qkv, H, Hkv, rope, args), residual);
      }
      // [B, T, (H + 2 Hkv)·Dh] -> [B, T, H + 2 Hkv, Dh] -> a block of heads as [B, heads, T, Dh]: views only
      // (splitting the last dim first keeps the reshape a view; the ops read strided operands).
      const qkv4 = qkv.reshape([B, T, H + 2 * Hkv, Dh]);
      const heads = (first: number, n: number): Tensor => qkv4.slice(2, first, first + n).permute(0, 2, 1, 3);
      let q = heads(0, H), k = heads(H, Hkv), v = heads(H + Hkv, Hkv);
      if (this.position === 'rope') {
        const ro = { base: this.ropeBase, pairing: this.ropePairing, offset: cache?.length ?? 0 };
        q = rope(q, ro);
        k = rope(k, ro); // rotated before caching, so cached keys never need rotating again
      }
      if (cache) [k, v] = cache.append(k, v);
      const y = attention(q, k, v, { position: this.position, causal: true, ...(docIds === undefined ? {} : { docIds }) });
      return this.proj.forward(y.permute(0, 2, 1, 3).reshape([B, T, H * Dh]), residual);
    });
  }
}
