/** Argument checks shared by the functional ops; each error names the op. */
import type { Device, DType } from '../dtype.js';
import { isDevice, isDType } from '../dtype.js';
import { ArgumentTypeError, DeviceError, DTypeError, ValueError } from '../errors.js';
import type { NativeHandle } from '../native.js';
import { Tensor } from '../tensor.js';

export function wrap<D extends DType>(h: NativeHandle): Tensor<D> {
  return new Tensor<D>(h);
}

export function checkTensor(op: string, name: string, x: unknown): asserts x is Tensor {
  if (!(x instanceof Tensor)) throw new ArgumentTypeError(op, `${name} must be a Tensor, got ${describe(x)}`);
}

export function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  if (typeof x === 'object') return (x as object).constructor?.name ?? 'an object';
  return `${typeof x} ${String(x)}`;
}

/** Throws for option keys the op does not know (a typo should not be silently ignored). */
export function checkOptions(op: string, opts: object | undefined, allowed: readonly string[]): void {
  if (opts === undefined) return;
  if (typeof opts !== 'object' || opts === null) throw new ArgumentTypeError(op, `options must be an object, got ${describe(opts)}`);
  for (const k of Object.keys(opts)) {
    if (!allowed.includes(k)) throw new ValueError(op, `unknown option '${k}' (expected one of: ${allowed.join(', ')})`);
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

export function checkInt(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ArgumentTypeError(op, `${name} must be an integer, got ${describe(v)}`);
  return v;
}

export function checkNumber(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number') throw new ArgumentTypeError(op, `${name} must be a number, got ${describe(v)}`);
  return v;
}
