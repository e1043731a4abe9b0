/**
 * The only file that loads the addon. It types the whole native surface (native/core/op_list.h) and
 * turns native errors into lmforge's error classes (lib/errors.ts).
 */
import { loadAddon } from './backend.js';
import { fromNative } from './errors.js';

/** A native tensor: a view over shared storage. Codes are those of lib/dtype.ts. */
export interface NativeHandle {
  shape(): number[];
  strides(): number[];
  offset(): number;
  dtype(): number;
  device(): number;
  /** Bytes of the storage this view shares. */
  nbytes(): number;
  disposed(): boolean;
  dispose(): void;
  /** The elements, row-major, copied into a new buffer. */
  read(): ArrayBuffer;
  sameStorage(other: NativeHandle): boolean;
}

/** What cudaAvailable() reports; the device fields are present when a device is usable. */
export interface CudaInfo {
  available: boolean;
  /** Why CUDA cannot be used ('' when it can). */
  reason: string;
  devices: number;
  name?: string;
  /** major * 10 + minor, e.g. 90 for Hopper. */
  computeCapability?: number;
  totalMemory?: number;
  /** 'cublasLt', or the fallback kernel with the reason cuBLASLt could not be loaded. */
  gemm?: string;
}

export interface NativeMemoryStats {
  buffers: number;
  bytes: number;
  peakBytes: number;
  cachedBytes: number;
}

export interface NativeCpuFeatures {
  avx2: boolean;
  fma: boolean;
  f16c: boolean;
  avx512f: boolean;
  avx512bw: boolean;
  avx512vl: boolean;
  avx512dq: boolean;
  avx512bf16: boolean;
  neon: boolean;
  tier: string;
}

type H = NativeHandle;

// ---- optimizer hyperparameters: one object per group of a fused step, read by name by the binding
// (native/binding/optim_groups.h) into the structs of native/ops/ops.h, and validated there in double.
// `step` counts applied steps, 1 for the first.

/** SGD (PyTorch semantics); states [momentum buffer] when momentum > 0, none otherwise. */
export interface SgdHyper {
  lr: number;
  weightDecay: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  step: number;
}

/** Adam (L2 weight decay) and AdamW (decoupled); states [first moment, second moment], float32. */
export interface AdamHyper {
  lr: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  decoupled: boolean;
  step: number;
}

/**
 * 8-bit Adam and AdamW. eightBit: states [first-moment codes, second-moment codes (uint8), first-moment
 * absmax, second-moment absmax (float32, one per block of 256)]; false: float32 moments as Adam (the
 * tensors too small for 8-bit state).
 */
export interface Adam8bitHyper extends AdamHyper {
  eightBit: boolean;
}

/** Lion; states [momentum]. */
export interface LionHyper {
  lr: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
}

/** SophiaG; states [first moment, Hessian EMA]. */
export interface SophiaHyper {
  lr: number;
  weightDecay: number;
  beta1: number;
  rho: number;
  eps: number;
}

/** Parameters sharing one hyperparameter object in a fused step (masters: float32 copies of bfloat16 parameters). */
export interface NativeStepGroup<Hp> {
  hyper: Hp;
  params: H[];
  grads: (H | null)[];
  masters: (H | null)[];
  /** Per parameter, its state tensors in the order the hyperparameter type documents. */
  states: H[][];
}

/** Sophia's Hessian EMA over one group: h = beta2·h + (1 − beta2)·estimate, pairwise. */
export interface NativeHessianGroup {
  beta2: number;
  hessians: H[];
  estimates: H[];
}

export interface NativeAddon {
  full(shape: number[], dtype: number, value: number, device: number): H;
  arange(start: number, stop: number, step: number, dtype: number, device: number): H;
  randUniform(shape: number[], dtype: number, seed: number, offset: number, low: number, high: number, device: number): H;
  randNormal(shape: number[], dtype: number, seed: number, offset: number, mean: number, std: number, device: number): H;
  fromHost(data: ArrayBufferView, shape: number[], dtype: number, device: number): H;
  reshape(t: H, shape: number[]): H;
  permute(t: H, dims: number[]): H;
  transpose(t: H, d0: number, d1: number): H;
  slice(t: H, dim: number, start: number, end: number, step: number): H;
  expand(t: H, shape: number[]): H;
  contiguous(t: H): H;
  astype(t: H, dtype: number): H;
  to(t: H, device: number): H;
  copyInto(dst: H, src: H): void;
  unary(op: string, t: H): H;
  binary(op: string, a: H, b: H): H;
  binaryScalar(op: string, t: H, s: number, scalarFirst: boolean): H;
  reduce(op: string, t: H, dims: number[], keepdim: boolean): H;
  matmul(a: H, b: H, bias: H | null, residual: H | null): H;
  softmax(t: H, dim: number, log: boolean): H;
  embedding(weight: H, indices: H): H;
  /** [loss, per-row log-sum-exp, number of non-ignored rows] */
  crossEntropy(logits: H, targets: H, ignoreIndex: number, reduction: string, zLoss?: number): [H, H, number];
  crossEntropyBackward(logits: H, targets: H, lse: H, rowGrad: H, ignoreIndex: number, zLoss?: number): H;
  /**
   * kind: relu, gelu (exact, erf), swish, glu, geglu, swiglu, reglu (gated: [..., 2h] -> [..., h]): lib/ops' ActivationKind and GatedKind.
   * op: the public function that errors name (default 'activation').
   */
  activation(kind: string, x: H, op?: string): H;
  activationBackward(kind: string, dy: H, x: H, op?: string): H;
  /** [y, mean, rstd, sum (x + residual) or null] */
  layerNorm(x: H, weight: H, bias: H | null, residual: H | null, eps: number): [H, H, H, H | null];
  /** [dx (also the residual's gradient), dweight, dbias or null] */
  layerNormBackward(dy: H, dsum: H | null, s: H, weight: H, mean: H, rstd: H, hasBias: boolean): [H, H, H | null];
  /** [y, rstd, sum (x + residual) or null] */
  rmsNorm(x: H, weight: H, residual: H | null, eps: number): [H, H, H | null];
  rmsNormBackward(dy: H, dsum: H | null, s: H, weight: H, rstd: H): [H, H];
  /**
   * RoPE on [B, H, T, D]; rotaryDims 0 means D; inverse rotates by -angle (the backward pass). x may be a
   * strided view; y follows its layout. inPlace rotates x itself and returns a new handle to it.
   */
  rope(x: H, base: number, pairing: string, offset: number, rotaryDims: number, inverse: boolean, inPlace?: boolean): H;
  embeddingBackward(gradOut: H, indices: H, numEmbeddings: number): H;
  /** Fused attention: [out, lse]; slopes (ALiBi, one per query head) and docIds [B, Tk] are optional. */
  attentionForward(q: H, k: H, v: H, causal: boolean, scale: number, slopes: number[] | null, docIds: H | null): [H, H];
  /**
   * [dq, dk, dv] from the output gradient and the forward's q, k, v, out and lse (strided views allowed);
   * with packed (Tq = Tk), [dqkv]: one [B, T, H + 2 Hkv, D] tensor holding dq, dk and dv.
   */
  attentionBackward(
    dout: H, q: H, k: H, v: H, out: H, lse: H, causal: boolean, scale: number, slopes: number[] | null, docIds: H | null,
    packed?: boolean,
  ): H[];
  where(cond: H, a: H, b: H): H;
  numThreads(): number;
  setNumThreads(n: number): void;
  memoryStats(device: number): NativeMemoryStats;
  resetPeakMemory(device: number): void;
  emptyCache(device: number): void;
  setCacheLimit(device: number, bytes: number): void;
  cpuFeatures(): NativeCpuFeatures;
  setCpuTier(tier: string): void;
  cudaAvailable(): CudaInfo;
  matmulKernelName(dtype: number): string;
  fmaPeak(threads: number, seconds: number): number;
  /** STREAM-triad GB/s on `threads` threads (the memory-bound benchmarks' ceiling). */
  memBandwidth(threads: number, seconds: number): number;
  /** The compiler, C++ standard and N-API version that built the addon (benchmark reports); cudaArchs: CMake's CUDA architecture list, '' without CUDA. */
  buildInfo(): { compiler: string; cplusplus: number; napiVersion: number; cudaArchs?: string };
  // ---- optimizers (native/ops/ops.h): one fused call over every group; false when a gradient held NaN
  // or Inf (checked on every call, before anything is written) and nothing changed ----
  sgdStep(groups: NativeStepGroup<SgdHyper>[]): boolean;
  adamStep(groups: NativeStepGroup<AdamHyper>[]): boolean;
  adam8bitStep(groups: NativeStepGroup<Adam8bitHyper>[]): boolean;
  lionStep(groups: NativeStepGroup<LionHyper>[]): boolean;
  sophiaStep(groups: NativeStepGroup<SophiaHyper>[]): boolean;
  /** The total gradient norm; grads scaled in place when it is finite and above maxNorm. */
  clipGradNorm(grads: H[], maxNorm: number): number;
  /** SophiaG's Hessian EMA; false (nothing changed) when an estimate held NaN or Inf. */
  hessianEma(groups: NativeHessianGroup[]): boolean;
  quant8Map(signed: boolean): H;
  /** [codes (uint8), absmax (float32, one per block of 256)] */
  quantize8(x: H, signed: boolean): [H, H];
  dequantize8(codes: H, absmax: H, signed: boolean): H;
  // ---- tokenizers (native/kernels/bpe.h) ----
  /** BPE merges as (left, right, result) id triples; words and the initial vocabulary as offsets into flat arrays. */
  bpeTrain(
    symbols: Int32Array, wordOffsets: Int32Array, wordCounts: Float64Array, vocabBytes: Uint8Array, vocabOffsets: Int32Array,
    vocabSize: number, minFrequency: number, numSpecial: number,
  ): Int32Array;
  /**
   * One pass over every word's Unigram lattice (native/kernels/unigram.h): expected piece counts by
   * forward-backward, Viterbi counts, and the counts of the words whose Viterbi path holds each piece.
   * Words and pieces are code points, sequence k at chars[offsets[k], offsets[k + 1]).
   */
  unigramEStep(
    wordChars: Int32Array, wordOffsets: Int32Array, wordCounts: Float64Array, pieceChars: Int32Array, pieceOffsets: Int32Array,
    scores: Float64Array,
  ): {
    expected: Float64Array; viterbi: Float64Array; cover: Float64Array;
    logLikelihood: number; viterbiTokens: number; wordCount: number; unsegmentable: number;
  };
  /** Seed substrings (2..maxLength code points) counted at least minCount times, by count × length descending, as first occurrences. */
  unigramSubstrings(wordChars: Int32Array, wordOffsets: Int32Array, wordCounts: Float64Array, maxLength: number, minCount: number, maxResults: number): {
    word: Int32Array; start: Int32Array; length: Int32Array; count: Float64Array;
  };
  /** Each piece's best segmentation by the other pieces; status -1 keep, 0 never on a Viterbi path, 1 see ids[offsets[p]..]. */
  unigramAlternatives(pieceChars: Int32Array, pieceOffsets: Int32Array, scores: Float64Array): {
    status: Int32Array; offsets: Int32Array; ids: Int32Array;
  };
  // collectives (lib/distributed/comm.ts); reduce is 'sum' | 'avg' | 'max'; tickets are for commTest/commWait (0: finished)
  commInit(backend: string, timeoutMs: number): { backend: string; rank: number; worldSize: number; localRank: number; localSize: number };
  commAllReduce(t: H, reduce: string, async: boolean): number;
  commReduceScatter(input: H, output: H, reduce: string): void;
  commAllGather(input: H, output: H): void;
  commBroadcast(t: H, root: number): void;
  commBarrier(): void;
  commTest(ticket: number): boolean;
  commWait(ticket: number): void;
  commFinalize(): void;
}

/** Receives the name and wall seconds of every call through the native table while set (lib/bench/profile.ts). */
export type NativeCallObserver = (op: string, seconds: number) => void;

let observer: NativeCallObserver | null = null;

/**
 * @internal Sets the observer of native calls (null: none) and returns the previous one. The table's
 * functions never change, so a reference taken before profiling started is observed too; with no
 * observer a call pays one null check.
 */
export function setNativeObserver(o: NativeCallObserver | null): NativeCallObserver | null {
  const previous = observer;
  observer = o;
  return previous;
}

function observed(o: NativeCallObserver, name: string, f: (...a: unknown[]) => unknown, args: unknown[]): unknown {
  const t0 = performance.now();
  try {
    return f(...args);
  } catch (e) {
    throw fromNative(e);
  } finally {
    o(name, (performance.now() - t0) / 1000);
  }
}

function load(): NativeAddon {
  // lib/backend.ts picks the binary (the CUDA package's or this package's) and explains a failure to load.
  const raw = loadAddon();
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(raw)) {
    if (typeof fn !== 'function' || name === 'TensorHandle') continue;
    const f = fn as (...a: unknown[]) => unknown;
    wrapped[name] = (...args: unknown[]) => {
      if (observer !== null) return observed(observer, name, f, args);
      try {
        return f(...args);
      } catch (e) {
        throw fromNative(e);
      }
    };
  }
  return wrapped as unknown as NativeAddon;
}

export const native: NativeAddon = load();

/** Runs a call on a handle (whose methods are not wrapped) with native errors converted. */
export function handleCall<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw fromNative(e);
  }
}
