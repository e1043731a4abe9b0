/**
 * GPT: a decoder-only transformer whose positional encoding, activation and norm are one config field
 * each, so that they can be compared with everything else held fixed.
 *
 * Token embedding (+ learned positions) -> dropout -> layers × pre-norm Block -> final norm -> LM head
 * (tied to the token embedding by default). The defaults are GPT-2's (learned positions, GELU,
 * LayerNorm with biases, tied embeddings); every field changes one choice.
 */
import type { Device, FloatDType } from '../dtype.js';
import { isDevice, isFloatDType } from '../dtype.js';
import { ArgumentTypeError, DTypeError, ShapeError, ValueError } from '../errors.js';
import { noGrad } from '../autograd/grad_mode.js';
import { tidy } from '../memory.js';
import { rand, tensor } from '../ops/creation.js';
import { matmul } from '../ops/matmul.js';
import { ROPE_PAIRINGS, type RopePairing } from '../ops/rope.js';
import { crossEntropy } from '../ops/softmax_xent.js';
import { describe, LAYER_DEFAULTS, oneOf, showValue } from '../ops/util.js';
import { Tensor } from '../tensor.js';
import { checkRopeHeadDim, type KVCache } from './attention.js';
import { Block, makeNorm, NORMS, type NormKind } from './block.js';
import { Dropout } from './dropout.js';
import { Embedding } from './embedding.js';
import { seedFor } from './init.js';
import { Linear } from './linear.js';
import { isGated, MLP_ACTIVATIONS, type MLPActivation } from './mlp.js';
import { Module, ModuleList } from './module.js';
import { OptionReader } from './option_reader.js';
import type { LayerNorm, RMSNorm } from './norm.js';
import { sampleToken } from './sample.js';
import { getDefaultDevice } from '../ops/util.js';

export type PositionKind = 'rope' | 'alibi' | 'learned' | 'none';
export const POSITION_KINDS: readonly PositionKind[] = ['rope', 'alibi', 'learned', 'none'];

export interface GPTConfig {
  vocabSize: number;
  /** Longest sequence (the learned position table's size, and the KV cache's). */
  seqLen: number;
  layers: number;
  dim: number;
  heads: number;
  /** Key/value heads for grouped-query attention; must divide heads. Default heads (multi-head). */
  kvHeads?: number;
  /** Default 'learned'. 'rope' and 'alibi' follow DESIGN.md's "Algorithms, as published". */
  position?: PositionKind;
  /** RoPE's base (default LAYER_DEFAULTS.ropeBase, 10000). */
  ropeBase?: number;
  /** RoPE's pairing: 'half' (GPT-NeoX, default) or 'interleaved' (GPT-J, Meta). */
  ropePairing?: RopePairing;
  /** Default 'gelu'. */
  activation?: MLPActivation;
  /** MLP width: default 4·dim, or for gated activations 8·dim/3 rounded up to a multiple of 64 (same parameter count). */
  mlpHidden?: number;
  /** Default 'layernorm'. */
  norm?: NormKind;
  /** Norm epsilon (default LAYER_DEFAULTS: 1e-5 for layernorm, 1e-6 for rmsnorm). */
  normEps?: number;
  /** The LM head reuses the token embedding (default true). */
  tieEmbeddings?: boolean;
  /** Dropout on the embeddings and on each residual branch, in training mode (default 0). */
  dropout?: number;
  /** Biases in the projections and LayerNorms (default true). */
  bias?: boolean;
  /** Init std of weights and embeddings (default 0.02); residual projections get initStd / √(2·layers). */
  initStd?: number;
  /** Seed of the initial weights and of the dropout masks (default 0). */
  seed?: number;
  /** Parameter dtype (default float32; float64 for gradcheck). */
  dtype?: FloatDType;
  device?: Device;
  /**
   * Compute precision (default 'fp32'). 'bf16' is mixed precision: the parameters stay float32 (the
   * master weights the optimizer updates), each forward casts them to bfloat16 and computes in bfloat16
   * (fp32 accumulation inside the kernels), and the logits and the loss come back as float32. Needs
   * dtype float32.
   */
  precision?: Precision;
}

export type Precision = 'fp32' | 'bf16';

export type ResolvedGPTConfig = Required<GPTConfig>;

const CONFIG_KEYS: readonly (keyof GPTConfig)[] = [
  'vocabSize', 'seqLen', 'layers', 'dim', 'heads', 'kvHeads', 'position', 'ropeBase', 'ropePairing', 'activation', 'mlpHidden',
  'norm', 'normEps', 'tieEmbeddings', 'dropout', 'bias', 'initStd', 'seed', 'dtype', 'device', 'precision',
];

/** The default MLP width for a dim and activation (see GPTConfig.mlpHidden). */
export function defaultMlpHidden(dim: number, activation: MLPActivation): number {
  const op = 'defaultMlpHidden';
  if (typeof dim !== 'number' || !Number.isInteger(dim) || dim < 1) throw new ValueError(op, `dim must be an integer >= 1, got ${showValue(dim)}`);
  oneOf(op, 'activation', activation, MLP_ACTIVATIONS);
  // Gated: 3·dim·h weights against the 2·dim·4·dim of a 4·dim MLP, so h = 8·dim/3, rounded to the nearest
  // multiple of 8 (SIMD- and tensor-core-friendly): rounding up to 64 added 12% at dim 128.
  return isGated(activation) ? Math.max(8, Math.round((8 * dim) / 3 / 8) * 8) : 4 * dim;
}

/** Fills in the defaults and validates every field; errors name the field and its value. */
export function resolveGPTConfig(config: GPTConfig): ResolvedGPTConfig {
  const op = 'GPTConfig';
  const o = new OptionReader(op, config, CONFIG_KEYS, { required: true, name: 'config' });
  const vocabSize = o.int('vocabSize', 1);
  const seqLen = o.int('seqLen', 1);
  const layers = o.int('layers', 1);
  const dim = o.int('dim', 1);
  const heads = o.int('heads', 1);
  const kvHeads = o.int('kvHeads', 1, heads);
  if (dim % heads !== 0) throw new ValueError(op, `dim ${dim} is not divisible by heads ${heads}`);
  if (heads % kvHeads !== 0) throw new ValueError(op, `kvHeads ${kvHeads} does not divide heads ${heads}`);
  const position = o.oneOf('position', POSITION_KINDS, 'learned');
  const ropeBase = o.number('ropeBase', { above: 1 }, LAYER_DEFAULTS.ropeBase);
  const ropePairing = o.oneOf('ropePairing', ROPE_PAIRINGS, LAYER_DEFAULTS.ropePairing);
  if (position === 'rope') checkRopeHeadDim(op, dim, heads);
  const activation = o.oneOf('activation', MLP_ACTIVATIONS, 'gelu');
  const mlpHidden = o.int('mlpHidden', 1, defaultMlpHidden(dim, activation));
  const norm = o.oneOf('norm', NORMS, 'layernorm');
  const normEps = o.number('normEps', { min: 0 }, norm === 'layernorm' ? LAYER_DEFAULTS.layerNormEps : LAYER_DEFAULTS.rmsNormEps);
  const tieEmbeddings = o.bool('tieEmbeddings', true);
  const dropout = o.number('dropout', { min: 0, below: 1 }, 0);
  const bias = o.bool('bias', true);
  const initStd = o.number('initStd', { min: 0 }, 0.02);
  const seed = o.seed() ?? 0;
  // dtype and device are ValueErrors here, as every other field of a config (the modules' are DTypeError
  // and DeviceError, as in the creation ops).
  const dtype = (o.get('dtype') ?? 'float32') as FloatDType;
  if (typeof dtype !== 'string' || !isFloatDType(dtype)) throw new ValueError(op, `dtype must be a floating-point dtype, got ${showValue(dtype)}`);
  const device = o.get('device') ?? getDefaultDevice();
  if (!isDevice(device)) throw new ValueError(op, `unknown device ${showValue(device)} (expected 'cpu' or 'cuda')`);
  const precision = o.oneOf('precision', ['fp32', 'bf16'] as const, 'fp32');
  if (precision === 'bf16' && dtype !== 'float32')
    throw new ValueError(op, `precision 'bf16' keeps float32 master weights: dtype must be float32, got ${dtype}`);
  return {
    vocabSize, seqLen, layers, dim, heads, kvHeads, position, ropeBase, ropePairing, activation, mlpHidden, norm, normEps,
    tieEmbeddings, dropout, bias, initStd, seed, dtype, device, precision,
  };
}

/**
 * The number of parameters of a GPT with this config, in closed form (the tests hold numParameters()
 * to it). With C = dim, Dh = dim/heads, h = mlpHidden, b = 1 with biases, else 0:
 *   embeddings  V·C (+ seqLen·C learned positions)
 *   per layer   2 norms, qkv C·(H + 2·Hkv)·Dh + b·(H + 2·Hkv)·Dh, proj C·C + b·C,
 *               MLP C·u + b·u + h·C + b·C with u = h (2h gated)
 *   final norm, and V·C for an untied head (no bias).
 * A norm is C weights, plus C biases for a LayerNorm with biases.
 */
export function parameterCount(config: GPTConfig): number {
  const c = resolveGPTConfig(config);
  const C = c.dim, V = c.vocabSize, Dh = c.dim / c.heads, b = c.bias ? 1 : 0;
  const norm = C + (c.norm === 'layernorm' && c.bias ? C : 0);
  const qkv = (c.heads + 2 * c.kvHeads) * Dh;
  const up = isGated(c.activation) ? 2 * c.mlpHidden : c.mlpHidden;
  const layer = 2 * norm + (C * qkv + b * qkv) + (C * C + b * C) + (C * up + b * up) + (c.mlpHidden * C + b * C);
  return V * C + (c.position === 'learned' ? c.seqLen * C : 0) + c.layers * layer + norm + (c.tieEmbeddings ? 0 : V * C);
}

export interface GPTOutput {
  /** [B, T, vocabSize] */
  logits: Tensor;
  /** Mean cross-entropy over the targets (ignoring -100), when targets were given. */
  loss?: Tensor;
}

export interface GPTForwardOptions {
  /**
   * Packed documents: int32 [B, T] document ids (e.g. documentIds from lib/data); attention stays inside
   * each document. Positions still count from the window's start.
   */
  docIds?: Tensor<'int32'>;
}

export interface GenerateOptions {
  /** New tokens to append (the prompt plus these must fit in seqLen). */
  maxTokens: number;
  /** Softmax temperature (default 1); 0 picks the most likely token (greedy, the first on ties). */
  temperature?: number;
  /** Sample among the k most likely tokens only (ties at the k-th value are kept). */
  topK?: number;
  /** Seed of the sampling draws; the global stream (manualSeed) when omitted. */
  seed?: number;
}

export class GPT extends Module {
  readonly config: ResolvedGPTConfig;
  readonly tokenEmbedding: Embedding;
  /** Learned positions only. */
  readonly positionEmbedding: Embedding | null;
  readonly drop: Dropout;
  readonly blocks: ModuleList<Block>;
  readonly finalNorm: LayerNorm | RMSNorm;
  /** Untied head only (no bias); a tied head multiplies by the token embedding's transpose. */
  readonly lmHead: Linear | null;
  /**
   * The compute precision (from the config; the Trainer's `precision` option sets it). 'bf16' needs
   * float32 parameters.
   */
  get precision(): Precision {
    return this.#precision;
  }
  set precision(p: Precision) {
    if (p !== 'fp32' && p !== 'bf16') throw new ValueError('GPT.precision', `precision must be 'fp32' or 'bf16', got ${showValue(p)}`);
    if (p === 'bf16' && this.tokenEmbedding.weight.dtype !== 'float32')
      throw new ValueError('GPT.precision', `precision 'bf16' keeps float32 master weights: the parameters are ${this.tokenEmbedding.weight.dtype}`);
    this.#precision = p;
  }
  #precision: Precision;

  constructor(config: GPTConfig) {
    super();
    const c = (this.config = Object.freeze(resolveGPTConfig(config)));
    this.#precision = c.precision;
    const seed = (name: string): number => seedFor(c.seed, name);
    const t = { dtype: c.dtype, device: c.device } as const;
    this.tokenEmbedding = this.registerModule('tokenEmbedding', new Embedding(c.vocabSize, c.dim, { ...t, std: c.initStd, seed: seed('tokenEmbedding') }));
    this.positionEmbedding = c.position === 'learned'
      ? this.registerModule('positionEmbedding', new Embedding(c.seqLen, c.dim, { ...t, std: c.initStd, seed: seed('positionEmbedding') }))
      : null;
    this.drop = this.registerModule('drop', new Dropout(c.dropout, { seed: seed('drop') }));
    // GPT-2's scaling: each residual branch adds to the stream 2·layers times in all, so their output
    // projections start 1/√(2·layers) smaller to keep the stream's variance independent of depth.
    const projStd = c.initStd / Math.sqrt(2 * c.layers);
    const blocks: Block[] = [];
    for (let i = 0; i < c.layers; i++) {
      blocks.push(new Block({
        dim: c.dim, heads: c.heads, kvHeads: c.kvHeads, position: c.position === 'learned' ? 'none' : c.position,
        ropeBase: c.ropeBase, ropePairing: c.ropePairing, activation: c.activation, mlpHidden: c.mlpHidden, norm: c.norm,
        normEps: c.normEps, dropout: c.dropout, bias: c.bias, ...t, std: c.initStd, projStd, seed: seed(`blocks.${i}`),
      }));
    }
    this.blocks = this.registerModule('blocks', new ModuleList(blocks));
    this.finalNorm = this.registerModule('finalNorm', makeNorm(c.norm, c.dim, { ...t, eps: c.normEps, bias: c.bias }));
    this.lmHead = c.tieEmbeddings
      ? null
      : this.registerModule('lmHead', new Linear(c.dim, c.vocabSize, { ...t, bias: false, std: c.initStd, seed: seed('lmHead') }));
  }

  /** Logits for int32 tokens [B, T] (T <= seqLen), and the mean cross-entropy when targets [B, T] are given. */
  forward(tokens: Tensor<'int32'>, targets?: Tensor<'int32'>, opts: GPTForwardOptions = {}): GPTOutput {
    this.checkTokens('GPT.forward', 'tokens', tokens);
    const docIds = new OptionReader('GPT.forward', opts, ['docIds']).get('docIds') as Tensor<'int32'> | undefined;
    if (docIds !== undefined) {
      if (!(docIds instanceof Tensor)) throw new ArgumentTypeError('GPT.forward', `docIds must be a Tensor, got ${describe(docIds)}`);
      if (docIds.dtype !== 'int32') throw new DTypeError('GPT.forward', `docIds must be int32, got ${docIds.dtype}`);
      if (docIds.ndim !== 2 || docIds.shape[0] !== tokens.shape[0] || docIds.shape[1] !== tokens.shape[1])
        throw new ShapeError('GPT.forward', `docIds must have the tokens' shape [${tokens.shape.join(', ')}], got [${docIds.shape.join(', ')}]`);
    }
    if (targets !== undefined) {
      if (!(targets instanceof Tensor)) throw new ArgumentTypeError('GPT.forward', `targets must be a Tensor, got ${describe(targets)}`);
      if (targets.dtype !== 'int32') throw new DTypeError('GPT.forward', `targets must be int32, got ${targets.dtype}`);
      if (targets.ndim !== 2 || targets.shape[0] !== tokens.shape[0] || targets.shape[1] !== tokens.shape[1])
        throw new ShapeError('GPT.forward', `targets must have the tokens' shape [${tokens.shape.join(', ')}], got [${targets.shape.join(', ')}]`);
    }
    try {
      return tidy(() => {
        // Token ids follow the parameters to their device (a model moved with to() keeps its config).
        const dev = this.device;
        const tok = tokens.device === dev ? tokens : tokens.to(dev);
        const ids = docIds === undefined ? undefined : docIds.device === dev ? docIds : docIds.to(dev);
        const logits = this.run(tok, null, false, ids);
        if (targets === undefined) return { logits };
        return { logits, loss: crossEntropy(logits, targets.device === dev ? targets : targets.to(dev)) };
      });
    } catch (e) {
      throw this.namedTokenError(e, 'GPT.forward', 'tokens', tokens);
    }
  }

  /**
   * Extends each prompt by maxTokens tokens, one at a time, with a KV cache per layer (each step runs the
   * model on the new token only). prompt is int32 [T] or [B, T]; the result has the same rank and holds
   * the prompt followed by the new tokens. Runs in eval mode under noGrad (the training flags are
   * restored after); the same seed gives the same tokens.
   */
  generate(prompt: Tensor<'int32'>, opts: GenerateOptions): Tensor<'int32'> {
    const op = 'GPT.generate';
    if (!(prompt instanceof Tensor)) throw new ArgumentTypeError(op, `prompt must be an int32 Tensor, got ${describe(prompt)}`);
    if (prompt.ndim !== 1 && prompt.ndim !== 2) throw new ShapeError(op, `prompt must be [T] or [B, T], got [${prompt.shape.join(', ')}]`);
    const o = new OptionReader(op, opts, ['maxTokens', 'temperature', 'topK', 'seed'], { required: true });
    const maxTokens = o.int('maxTokens', 0);
    const temperature = o.number('temperature', { min: 0 }, 1);
    const topK = o.get('topK') === undefined ? undefined : o.int('topK', 1);
    const seed = o.seed();
    const rows = prompt.ndim === 2 ? prompt.reshape(prompt.shape as number[]) : prompt.reshape([1, prompt.shape[0]!]);
    try {
      this.checkTokens(op, 'prompt', rows);
      const [B, T] = rows.shape as [number, number];
      const total = T + maxTokens;
      if (total > this.config.seqLen)
        throw new ShapeError(op, `prompt length ${T} + maxTokens ${maxTokens} = ${total} exceeds seqLen ${this.config.seqLen}`);
      const V = this.config.vocabSize;
      const out = new Int32Array(B * total);
      const given = rows.dataSync();
      this.checkTokenIds(op, 'prompt', given, T);
      for (let b = 0; b < B; b++) out.set(given.subarray(b * T, (b + 1) * T), b * total);
      const modes = this.namedModules().map(([, m]) => [m, m.training] as const);
      this.eval();
      const caches = [...this.blocks].map((blk) => blk.attn.createCache(B, total, this.precision === 'bf16' ? 'bfloat16' : undefined));
      try {
        noGrad(() => {
          // One uniform per sampled token; drawn up front so the tokens depend on the seed alone.
          const u = temperature > 0 && maxTokens > 0
            ? tidy(() => rand([maxTokens, B], { dtype: 'float64', ...(seed === undefined ? {} : { seed }) }).dataSync())
            : null;
          let input = rows;
          for (let step = 0; step < maxTokens; step++) {
            const next = tidy(() => {
              const logits = this.run(input, caches, true).dataSync(); // [B, 1, V]
              const ids = new Int32Array(B);
              for (let b = 0; b < B; b++) ids[b] = sampleToken(logits, b * V, V, temperature, topK, u ? u[step * B + b]! : 0);
              return ids;
            });
            for (let b = 0; b < B; b++) out[b * total + T + step] = next[b]!;
            if (input !== rows) input.dispose();
            input = tensor(next, [B, 1], 'int32', this.device);
          }
          if (input !== rows) input.dispose();
        });
      } finally {
        for (const cache of caches) cache.dispose();
        for (const [m, mode] of modes) m.training = mode;
      }
      return tensor(out, prompt.ndim === 2 ? [B, total] : [total], 'int32', this.device);
    } finally {
      rows.dispose();
    }
  }

  // tokens [B, T] -> logits [B, T, V] (or [B, 1, V] for the last position only). With caches, the
  // tokens continue the cached positions.
  private run(tokens: Tensor<'int32'>, caches: KVCache[] | null, lastOnly: boolean, docIds?: Tensor<'int32'>): Tensor {
    if (this.precision === 'fp32') return this.runIn(tokens, caches, lastOnly, docIds);
    // Mixed precision: bfloat16 copies of the float32 parameters for this forward. The casts are on the
    // tape, so their backward hands float32 gradients to the master weights.
    return tidy(() => {
      const half: Record<string, Tensor> = {};
      for (const [name, p] of this.namedParameters()) half[name] = p.astype('bfloat16');
      return this.withParameters(half, () => this.runIn(tokens, caches, lastOnly, docIds)).astype('float32');
    });
  }

  /** The device the parameters are on (to() moves them; the config records where the model was built). */
  get device(): Device {
    return this.tokenEmbedding.weight.device;
  }

  private runIn(tokens: Tensor<'int32'>, caches: KVCache[] | null, lastOnly: boolean, docIds?: Tensor<'int32'>): Tensor {
    const T = tokens.shape[1]!;
    const start = caches ? caches[0]!.length : 0;
    return tidy(() => {
      let x = this.tokenEmbedding.forward(tokens);
      if (this.positionEmbedding) x = x.add(this.positionEmbedding.weight.slice(0, start, start + T));
      x = this.drop.forward(x);
      let i = 0;
      for (const block of this.blocks) x = block.forward(x, caches ? { cache: caches[i++]! } : docIds ? { docIds } : {});
      if (lastOnly) x = x.slice(1, T - 1);
      x = this.finalNorm.forward(x);
      if (this.lmHead) return this.lmHead.forward(x);
      return matmul(x, this.tokenEmbedding.weight.T);
    });
  }

  private checkTokens(op: string, name: string, tokens: Tensor): void {
    if (!(tokens instanceof Tensor)) throw new ArgumentTypeError(op, `${name} must be an int32 Tensor, got ${describe(tokens)}`);
    if (tokens.dtype !== 'int32') throw new DTypeError(op, `${name} must be int32, got ${tokens.dtype}`);
    if (tokens.ndim !== 2) throw new ShapeError(op, `${name} must be [B, T], got [${tokens.shape.join(', ')}]`);
    const T = tokens.shape[1]!;
    if (T > this.config.seqLen) throw new ShapeError(op, `${name} have length ${T}, more than seqLen ${this.config.seqLen}`);
    if (T === 0 || tokens.shape[0] === 0) throw new ShapeError(op, `${name} must not be empty, got [${tokens.shape.join(', ')}]`);
  }

  // The ids of tokens [B, T] must lie in [0, vocabSize). Each training step leaves that check to the
  // embedding kernel, which makes it while gathering (a host read of the ids would synchronise with the
  // device every step); this scan runs on ids already on the host: generate's prompt, and the error path.
  private checkTokenIds(op: string, name: string, ids: Int32Array, T: number): void {
    const V = this.config.vocabSize;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id < 0 || id >= V) throw new ValueError(op, `${name}[${Math.floor(i / T)}, ${i % T}] = ${id} is outside the vocabulary [0, ${V})`);
    }
  }

  // The embedding op's range error names a flat position in its own terms; this names the token as the
  // caller wrote it (tokens[b, t], the vocabulary). Any other error, or one these tokens did not cause
  // (on CUDA a fault is reported at the next synchronisation, possibly of a later call), passes unchanged.
  private namedTokenError(e: unknown, op: string, name: string, tokens: Tensor): unknown {
    if (!(e instanceof ValueError) || e.op !== 'embedding') return e;
    try {
      this.checkTokenIds(op, name, tokens.dataSync() as Int32Array, tokens.shape[1]!);
    } catch (named) {
      return named;
    }
    return e;
  }
}
