/** Argument checks shared by the functional ops; each error names the op. */
import type { Device, DType } from '../dtype.js';
import { isDevice, isDType } from '../dtype.js';
import { ArgumentTypeError, describe, DeviceError, DisposedError, DTypeError, ValueError } from '../errors.js';
import { tidy } from '../memory.js';
import type { NativeHandle } from '../native.js';
import { hint } from '../options.js';
import { Tensor } from '../tensor.js';
import type { RopePairing } from './rope.js';

export { checkFunction, describe } from '../errors.js';

export function wrap<D extends DType>(h: NativeHandle): Tensor<D> {
  return new Tensor<D>(h);
}

export function checkTensor(op: string, name: string, x: unknown): asserts x is Tensor {
  if (!(x instanceof Tensor)) throw new ArgumentTypeError(op, `${name} must be a Tensor, got ${describe(x)}`);
}

/**
 * Throws for option keys the op does not know (a typo should not be silently ignored), naming the closest
 * known key when there is one ("did you mean 'bias'?"), else listing them all.
 */
export function checkOptions(op: string, opts: object | undefined, allowed: readonly string[]): void {
  if (opts === undefined) return;
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) throw new ArgumentTypeError(op, `options must be an object, got ${describe(opts)}`);
  for (const k of Object.keys(opts)) {
    if (!allowed.includes(k)) throw new ValueError(op, `unknown option '${k}'${hint(k, allowed, `expected one of: ${allowed.join(', ')}`, (c) => `'${c}'`)}`);
  }
}

export function checkDType(op: string, d: unknown): DType {
  if (!isDType(d)) throw new DTypeError(op, `unknown dtype ${JSON.stringify(d)} (expected float32, bfloat16, float16, float64, int32, uint8 or int8)`);
  return d;
}

export function checkDevice(op: string, d: unknown): Device {
  if (!isDevice(d)) throw new DeviceError(op, `unknown device ${JSON.stringify(d)} (expected 'cpu' or 'cuda')`);
  return d;
}

let defaultDevice: Device = 'cpu';

/** Where tensors and modules are created when no device is named ('cpu' unless setDefaultDevice changed it). */
export function getDefaultDevice(): Device {
  return defaultDevice;
}

/**
 * Sets the device that creation functions (tensor, zeros, randn, ...) and nn modules use when none is
 * named, as torch.set_default_device does; ops always run where their operands are.
 */
export function setDefaultDevice(device: Device): void {
  defaultDevice = checkDevice('setDefaultDevice', device);
}

export function checkShape(op: string, shape: unknown): number[] {
  if (!Array.isArray(shape)) throw new ArgumentTypeError(op, `shape must be an array of integers, got ${describe(shape)}`);
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0)
      throw new ValueError(op, `shape must hold non-negative integers, got [${shape.map(String).join(', ')}]`);
  }
  return shape as number[];
}

/** An integer, and with bounds one in [min, max] (a ValueError outside them). */
export function checkInt(op: string, name: string, v: unknown, min = -Infinity, max = Infinity): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ArgumentTypeError(op, `${name} must be an integer, got ${describe(v)}`);
  if (v < min || v > max) throw new ValueError(op, `${name} must be an integer ${max === Infinity ? `>= ${min}` : `in [${min}, ${max}]`}, got ${v}`);
  return v;
}

export function checkNumber(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number') throw new ArgumentTypeError(op, `${name} must be a number, got ${describe(v)}`);
  return v;
}

/** A finite number >= min. */
export function checkFinite(op: string, name: string, v: unknown, min = -Infinity): number {
  const x = checkNumber(op, name, v);
  if (!Number.isFinite(x) || x < min) throw new ValueError(op, `${name} must be a finite number${min === -Infinity ? '' : ` >= ${min}`}, got ${x}`);
  return x;
}

export function checkString(op: string, name: string, v: unknown): string {
  if (typeof v !== 'string') throw new ArgumentTypeError(op, `${name} must be a string, got ${describe(v)}`);
  return v;
}

/** A non-null object (an options bag, a record): not an array, not a primitive. */
export function checkObject(op: string, name: string, v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ArgumentTypeError(op, `${name} must be an object, got ${describe(v)}`);
  return v as Record<string, unknown>;
}

// ---- shared by the layer families (activation, norm, rope, attention) ----

/** The defaults of the layer ops, the nn modules and GPTConfig: each written here only. */
export const LAYER_DEFAULTS = Object.freeze({
  /** θ_i = base^(-2i/D) (Su et al.). */
  ropeBase: 10000,
  ropePairing: 'half' as RopePairing,
  /** Position of the first row. */
  ropeOffset: 0,
  layerNormEps: 1e-5,
  /** LLaMA's and T5's. */
  rmsNormEps: 1e-6,
});

/** A Tensor that has not been disposed. */
export function liveTensor(op: string, name: string, t: unknown): asserts t is Tensor {
  checkTensor(op, name, t);
  if (t.isDisposed) throw new DisposedError(op, `${name} is a disposed tensor`);
}

/**
 * A value as an error about an option shows it: strings quoted, numbers as written (NaN, not JSON's null),
 * anything else as describe() names it (JSON.stringify would throw on a BigInt).
 */
export function showValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === undefined || v === null) return String(v);
  if (typeof v === 'bigint') return `${v}n`;
  return describe(v);
}

/** One of `allowed`; the error lists them. */
export function oneOf<T extends string>(op: string, name: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v))
    throw new ValueError(op, `unknown ${name} ${showValue(v)} (expected one of: ${allowed.join(', ')})`);
  return v as T;
}

// float16: the fused layer kernels compute float32, bfloat16 and float64, so a float16 call runs the kernel
// in float32 and rounds once at the end (the casts are on the tape: gradients come back as float16).
// Runs f on float32 copies when every given tensor is float16; other dtypes go to f unchanged, so that the
// native op names a mixed or unsupported dtype as given.
export function viaFloat32<D extends DType>(xs: readonly (Tensor | null)[], f: (xs: (Tensor | null)[]) => Tensor): Tensor<D> {
  if (!xs.every((t) => t === null || t.dtype === 'float16')) return f([...xs]) as Tensor<D>;
  return tidy(() => f(xs.map((t) => t && t.astype('float32'))).astype('float16')) as unknown as Tensor<D>;
}
