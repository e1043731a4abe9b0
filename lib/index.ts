/** lmforge: tensors on native C++ kernels. This module has no side effects beyond loading the addon. */
// Tensor and Module are Disposable (`using`): a consumer compiling against lib ES2022 needs this lib for
// Symbol.dispose; preserve="true" keeps the directive in dist/index.d.ts.
/// <reference lib="esnext.disposable" preserve="true" />
export { Tensor } from './tensor.js';
export type { Scalar } from './tensor.js';
export type { DataTypeMap, Device, DType, FloatDType } from './dtype.js';
export {
  ArgumentTypeError,
  DeviceError,
  DisposedError,
  DTypeError,
  LmforgeError,
  NativeError,
  OutOfMemoryError,
  ShapeError,
  ValueError,
} from './errors.js';
export { emptyCache, keep, memory, resetPeakMemory, setCacheLimit, tidy } from './memory.js';
export type { MemoryInfo } from './memory.js';
export { arange, full, manualSeed, ones, onesLike, rand, randn, tensor, zeros, zerosLike } from './ops/creation.js';
export type { CreateOptions, NestedArray, RandnOptions, RandOptions, TensorData } from './ops/creation.js';
export {
  abs, add, cos, div, eq, erf, exp, ge, gt, le, log, lt, maximum, minimum, mul, ne, neg, pow, reciprocal, relu, rsqrt, sigmoid, sign,
  sin, sqrt, square, sub, tanh, where,
} from './ops/elementwise.js';
export { argmax, argmin, max, mean, min, sum } from './ops/reduce.js';
export { bmm, linear, matmul } from './ops/matmul.js';
export type { MatmulOptions } from './ops/matmul.js';
export { crossEntropy, logSoftmax, softmax } from './ops/softmax_xent.js';
export type { CrossEntropyOptions } from './ops/softmax_xent.js';
export { embedding } from './ops/embedding.js';
export { astype, cat, clone, contiguous, copyInto, expand, permute, reshape, slice, squeeze, to, transpose, unsqueeze } from './ops/views.js';
export { enableGrad, isGradEnabled, noGrad } from './autograd/grad_mode.js';
export { gradcheck } from './autograd/gradcheck.js';
export type { GradcheckOptions, GradcheckResult } from './autograd/gradcheck.js';
export {
  backendInfo, cpuInfo, cudaAvailable, getDefaultDevice, matmulKernel, numThreads, setCpuTier, setDefaultDevice, setNumThreads,
} from './runtime.js';
export type { BackendInfo, CpuTier } from './runtime.js';
export type { CudaInfo } from './native.js';
export { activation, gatedActivation } from './ops/activation.js';
export { alibiSlopes, attention } from './ops/attention.js';
export { dropout } from './ops/dropout.js';
export { layerNorm, rmsNorm } from './ops/norm.js';
export { rope } from './ops/rope.js';
export type { ActivationKind, GatedKind } from './ops/activation.js';
export type { AttentionOptions, AttentionPosition } from './ops/attention.js';
export type { RopeOptions, RopePairing } from './ops/rope.js';
export {
  Block, CausalSelfAttention, defaultMlpHidden, Dropout, Embedding, GPT, initNormal, initUniform, isGated, KVCache, LayerNorm, Linear,
  makeNorm, MLP, MLP_ACTIVATIONS, Module, ModuleList, NORMS, parameterCount, POSITION_KINDS, resolveGPTConfig, RMSNorm, sampleToken, seedFor,
} from './nn/index.js';
export type {
  AttentionForwardOptions, BlockOptions, CausalSelfAttentionOptions, DropoutOptions, EmbeddingOptions, GenerateOptions, GPTConfig,
  GPTOutput, InitOptions, LinearOptions, LoadStateDictOptions, MLPActivation, MLPOptions, NormKind, NormOptions, PositionKind,
  Precision, ResolvedGPTConfig, StateDict,
} from './nn/index.js';
export * from './optim/index.js';
export * from './data/index.js';
export * from './train/index.js';
export * from './eval/index.js';
// Chart helpers (standalone SVG text) for reports built on lmforge's results.
export { barChart, escapeXml, lineChart, linearTicks, logTicks } from './bench/svg.js';
export type { Bar, BarChartOptions, ChartSeries, LineChartOptions, LogScale } from './bench/svg.js';
export { getRngState, setRngState } from './ops/creation.js';
export { distributedEnv, initDistributed } from './distributed/comm.js';
export type { CollectiveBackend, Communicator, PendingCollective, ReduceOp } from './distributed/comm.js';
export type { RngState } from './ops/creation.js';
