/** Creating tensors: constants, ranges, seeded random numbers, and tensors from JS data. */
import type { Device, DType, FloatDType } from '../dtype.js';
import { deviceCode, dtypeCode, isFloatDType } from '../dtype.js';
import { ArgumentTypeError, ShapeError, ValueError } from '../errors.js';
import { native } from '../native.js';
import type { Tensor } from '../tensor.js';
import { checkDevice, checkDType, checkInt, checkNumber, checkOptions, checkShape, checkTensor, describe, getDefaultDevice, wrap } from './util.js';

export interface CreateOptions<D extends DType> {
  dtype?: D;
  device?: Device;
}

function target<D extends DType>(op: string, opts: CreateOptions<D> | undefined, extra: readonly string[] = []) {
  checkOptions(op, opts, ['dtype', 'device', ...extra]);
  const dtype = checkDType(op, opts?.dtype ?? 'float32') as D;
  const device = checkDevice(op, opts?.device ?? getDefaultDevice());
  return { dtype, device };
}

export function full<D extends DType = 'float32'>(shape: readonly number[], value: number, opts?: CreateOptions<D>): Tensor<D> {
  const { dtype, device } = target('full', opts);
  checkNumber('full', 'value', value);
  checkIntValue('full', value, dtype); // as tensor() does: an integer dtype holds no 1.5, 300 (int8) or NaN
  return wrap(native.full(checkShape('full', shape), dtypeCode(dtype), value, deviceCode(device)));
}

export function zeros<D extends DType = 'float32'>(shape: readonly number[], opts?: CreateOptions<D>): Tensor<D> {
  const { dtype, device } = target('zeros', opts);
  return wrap(native.full(checkShape('zeros', shape), dtypeCode(dtype), 0, deviceCode(device)));
}

export function ones<D extends DType = 'float32'>(shape: readonly number[], opts?: CreateOptions<D>): Tensor<D> {
  const { dtype, device } = target('ones', opts);
  return wrap(native.full(checkShape('ones', shape), dtypeCode(dtype), 1, deviceCode(device)));
}

export function zerosLike<D extends DType>(t: Tensor<D>): Tensor<D> {
  checkTensor('zerosLike', 't', t);
  return zeros(t.shape, { dtype: t.dtype, device: t.device });
}

export function onesLike<D extends DType>(t: Tensor<D>): Tensor<D> {
  checkTensor('onesLike', 't', t);
  return ones(t.shape, { dtype: t.dtype, device: t.device });
}

/**
 * Values start, start + step, ... below stop (above it for a negative step). `arange(n)` is 0..n-1.
 * The default dtype is int32 when every argument is an integer, else float32.
 */
export function arange<D extends DType = 'float32'>(start: number, stop?: number, step = 1, opts?: CreateOptions<D>): Tensor<D> {
  checkNumber('arange', 'start', start);
  if (stop === undefined) [start, stop] = [0, start];
  checkNumber('arange', 'stop', stop);
  checkNumber('arange', 'step', step);
  const allInt = Number.isInteger(start) && Number.isInteger(stop) && Number.isInteger(step);
  const { dtype, device } = target('arange', { dtype: (opts?.dtype ?? (allInt ? 'int32' : 'float32')) as D, device: opts?.device });
  checkOptions('arange', opts, ['dtype', 'device']);
  return wrap(native.arange(start, stop, step, dtypeCode(dtype), deviceCode(device)));
}

// ---- seeded random numbers ----
// Element i of a draw uses Philox(seed, offset + i) (native/kernels/math.h), so the numbers depend on
// the seed alone, never on the thread count. Draws without a seed continue the global stream.

const MAX_SEED = Number.MAX_SAFE_INTEGER;
const rngState = { seed: 0, offset: 0 };

/** Restarts the global random stream from `seed` (a non-negative integer). The default seed is 0. */
export function manualSeed(seed: number): void {
  checkInt('manualSeed', 'seed', seed);
  if (seed < 0 || seed > MAX_SEED) throw new ValueError('manualSeed', `seed must be in [0, 2^53), got ${seed}`);
  rngState.seed = seed;
  rngState.offset = 0;
}

/** The global random stream's position: its seed and how many numbers it has handed out. */
export interface RngState {
  seed: number;
  offset: number;
}

/** A copy of the global stream's state, for checkpoints (setRngState restores it exactly). */
export function getRngState(): RngState {
  return { seed: rngState.seed, offset: rngState.offset };
}

/** Restores a state from getRngState(): the next draws continue exactly where that stream was. */
export function setRngState(state: RngState): void {
  const op = 'setRngState';
  if (typeof state !== 'object' || state === null) throw new ValueError(op, `state must be { seed, offset }, got ${String(state)}`);
  for (const k of ['seed', 'offset'] as const) {
    const v = state[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_SEED) throw new ValueError(op, `${k} must be an integer in [0, 2^53), got ${JSON.stringify(v)}`);
  }
  rngState.seed = state.seed;
  rngState.offset = state.offset;
}

// The counter a draw starts at; `advance` moves the global stream past it once the draw succeeded
// (a draw that fails consumes no numbers).
function nextCounter(op: string, shape: readonly number[], seed: number | undefined): { seed: number; offset: number; advance: () => void } {
  if (seed !== undefined) {
    checkInt(op, 'seed', seed);
    if (seed < 0 || seed > MAX_SEED) throw new ValueError(op, `seed must be in [0, 2^53), got ${seed}`);
    return { seed, offset: 0, advance: () => {} };
  }
  const n = shape.reduce((a, b) => a * b, 1);
  return { seed: rngState.seed, offset: rngState.offset, advance: () => void (rngState.offset += n) };
}

export interface RandOptions<D extends FloatDType> extends CreateOptions<D> {
  low?: number;
  high?: number;
  seed?: number;
}

/** Uniform numbers in [low, high) (default [0, 1)). */
export function rand<D extends FloatDType = 'float32'>(shape: readonly number[], opts?: RandOptions<D>): Tensor<D> {
  const { dtype, device } = target('rand', opts, ['low', 'high', 'seed']);
  checkShape('rand', shape);
  const { seed, offset, advance } = nextCounter('rand', shape, opts?.seed);
  const low = checkNumber('rand', 'low', opts?.low ?? 0), high = checkNumber('rand', 'high', opts?.high ?? 1);
  const h = native.randUniform(shape as number[], dtypeCode(dtype), seed, offset, low, high, deviceCode(device));
  advance();
  return wrap(h);
}

export interface RandnOptions<D extends FloatDType> extends CreateOptions<D> {
  mean?: number;
  std?: number;
  seed?: number;
}

/** Normal numbers with the given mean and standard deviation (default 0 and 1). */
export function randn<D extends FloatDType = 'float32'>(shape: readonly number[], opts?: RandnOptions<D>): Tensor<D> {
  const { dtype, device } = target('randn', opts, ['mean', 'std', 'seed']);
  checkShape('randn', shape);
  const { seed, offset, advance } = nextCounter('randn', shape, opts?.seed);
  const mean = checkNumber('randn', 'mean', opts?.mean ?? 0), std = checkNumber('randn', 'std', opts?.std ?? 1);
  const h = native.randNormal(shape as number[], dtypeCode(dtype), seed, offset, mean, std, deviceCode(device));
  advance();
  return wrap(h);
}

// ---- from JS data ----

export type TensorData = number | ArrayLike<number> | NestedArray | Float32Array | Float64Array | Int32Array | Uint8Array | Int8Array;
export interface NestedArray extends Array<number | NestedArray> {}

function inferShape(data: unknown): number[] {
  const shape: number[] = [];
  let x = data;
  while (Array.isArray(x)) {
    shape.push(x.length);
    if (x.length === 0) break;
    x = x[0];
  }
  return shape;
}

function flatten(data: unknown, shape: number[], op: string): Float64Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float64Array(n);
  let k = 0;
  const walk = (x: unknown, dim: number): void => {
    if (dim === shape.length) {
      if (Array.isArray(x)) throw new ShapeError(op, `nested arrays are ragged: expected a number at depth ${dim}, found an array`);
      if (typeof x !== 'number') throw new ArgumentTypeError(op, `data must hold numbers, found ${describe(x)}`);
      out[k++] = x;
      return;
    }
    if (!Array.isArray(x) || x.length !== shape[dim])
      throw new ShapeError(op, `nested arrays are ragged: expected length ${shape[dim]} at depth ${dim}`);
    for (const v of x) walk(v, dim + 1);
  };
  walk(data, 0);
  return out;
}

const INT_RANGE: Record<string, [number, number]> = {
  int32: [-2147483648, 2147483647],
  uint8: [0, 255],
  int8: [-128, 127],
};

/** Throws unless v fits dtype exactly (any number fits a float dtype; `at` places v in the data). */
function checkIntValue(op: string, v: number, dtype: DType, at = ''): void {
  const range = INT_RANGE[dtype];
  if (range && !(Number.isInteger(v) && v >= range[0] && v <= range[1]))
    throw new ValueError(op, `value ${v}${at} is not a ${dtype} (integers in [${range[0]}, ${range[1]}])`);
}

function encode(values: ArrayLike<number>, dtype: DType, op: string): ArrayBufferView {
  const range = INT_RANGE[dtype];
  if (range && defaultDType(values) === dtype) return values as unknown as ArrayBufferView; // already exact
  if (range) {
    for (let i = 0; i < values.length; i++) checkIntValue(op, values[i]!, dtype, ` at index ${i}`);
    if (dtype === 'int32') return Int32Array.from(values);
    if (dtype === 'uint8') return Uint8Array.from(values);
    return Int8Array.from(values);
  }
  if (dtype === 'float64') return values instanceof Float64Array ? values : Float64Array.from(values);
  return values instanceof Float32Array ? values : Float32Array.from(values);
}

function defaultDType(data: unknown): DType {
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Int8Array) return 'int8';
  return 'float32';
}

/**
 * A tensor from a number, nested arrays or a typed array. The shape defaults to the nested arrays'
 * shape (a flat typed array gives 1-d); the dtype to the typed array's (float32 for plain numbers).
 */
export function tensor(data: Int32Array, shape?: readonly number[]): Tensor<'int32'>;
export function tensor(data: Uint8Array, shape?: readonly number[]): Tensor<'uint8'>;
export function tensor(data: Int8Array, shape?: readonly number[]): Tensor<'int8'>;
export function tensor<D extends DType = 'float32'>(data: TensorData, shape: readonly number[] | undefined, dtype?: D, device?: Device): Tensor<D>;
export function tensor(data: TensorData, shape?: readonly number[]): Tensor<'float32'>;
export function tensor<D extends DType = 'float32'>(data: TensorData, shape?: readonly number[], dtype?: D, device: Device = getDefaultDevice()): Tensor<D> {
  const op = 'tensor';
  const dt = checkDType(op, dtype ?? defaultDType(data)) as D;
  checkDevice(op, device);
  let values: ArrayLike<number>;
  let inferred: number[];
  if (typeof data === 'number') {
    values = [data];
    inferred = [];
  } else if (ArrayBuffer.isView(data)) {
    if (data instanceof DataView || data instanceof BigInt64Array || data instanceof BigUint64Array)
      throw new ArgumentTypeError(op, `unsupported data type ${describe(data)}`);
    values = data as unknown as ArrayLike<number>;
    inferred = [values.length];
  } else if (Array.isArray(data)) {
    inferred = inferShape(data);
    values = flatten(data, inferred, op);
  } else {
    throw new ArgumentTypeError(op, `data must be a number, an array or a typed array, got ${describe(data)}`);
  }
  const sh = shape === undefined ? inferred : checkShape(op, shape as number[]);
  const n = sh.reduce((a, b) => a * b, 1);
  if (n !== values.length)
    throw new ShapeError(op, `data has ${values.length} elements but shape [${sh.join(', ')}] needs ${n}`);
  if (isFloatDType(dt) && dt !== 'float32' && dt !== 'float64') {
    const h = native.fromHost(encode(values, 'float32', op), sh, dtypeCode('float32'), deviceCode(device));
    try {
      return wrap(native.astype(h, dtypeCode(dt)));
    } finally {
      h.dispose();
    }
  }
  return wrap(native.fromHost(encode(values, dt, op), sh, dtypeCode(dt), deviceCode(device)));
}
