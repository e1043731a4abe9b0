/**
 * The options of the nn modules and the GPT config, read one way. The bag must be an object (it may be
 * omitted where every option has a default); a key the module does not take is refused, naming the
 * closest known key (checkOptions); each value is checked as it is read, before any tensor is made, so
 * the error names the module the user called and not an op deep inside it. An option given as
 * undefined or null takes its default. A bad value is a ValueError naming the module, the option and the
 * value (GPTConfig's convention); a bad dtype is a DTypeError and a bad device a DeviceError, as in the
 * creation ops.
 */
import type { Device, FloatDType } from '../dtype.js';
import { isDType, isFloatDType } from '../dtype.js';
import { DTypeError, ValueError } from '../errors.js';
import { checkDevice, checkObject, checkOptions, getDefaultDevice, oneOf, showValue } from '../ops/util.js';

/** Bounds of a number option: min <= v, above < v, v < below. */
export interface Range {
  min?: number;
  above?: number;
  below?: number;
}

export class OptionReader {
  readonly #bag: Record<string, unknown>;

  /**
   * Checks the bag and its keys. `required`: the bag holds required options (no default for it);
   * `name`: what the bag is called in the error ('options', 'config').
   */
  constructor(readonly op: string, opts: unknown, keys: readonly string[], { required = false, name = 'options' } = {}) {
    this.#bag = checkObject(op, name, opts === undefined && !required ? {} : opts);
    checkOptions(op, this.#bag, keys);
  }

  /** The value given, or undefined (for undefined and null alike). */
  get(name: string): unknown {
    return this.#bag[name] ?? undefined;
  }

  /** An integer >= min; required when there is no default. */
  int(name: string, min: number, dflt?: number): number {
    const v = this.get(name) ?? dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ValueError(this.op, `${name} must be an integer >= ${min}, got ${showValue(v)}`);
    return v;
  }

  /** A finite number in the range; undefined when not given and there is no default. */
  number(name: string, range: Range, dflt: number): number;
  number(name: string, range: Range): number | undefined;
  number(name: string, range: Range, dflt?: number): number | undefined {
    const v = this.get(name) ?? dflt;
    if (v === undefined) return undefined;
    const { min = -Infinity, above = -Infinity, below = Infinity } = range;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v <= above || v >= below) {
      const bounds = below !== Infinity ? ` in [${min}, ${below})` : above !== -Infinity ? ` > ${above}` : min !== -Infinity ? ` >= ${min}` : '';
      throw new ValueError(this.op, `${name} must be a finite number${bounds}, got ${showValue(v)}`);
    }
    return v;
  }

  bool(name: string, dflt: boolean): boolean {
    const v = this.get(name) ?? dflt;
    if (typeof v !== 'boolean') throw new ValueError(this.op, `${name} must be a boolean, got ${showValue(v)}`);
    return v;
  }

  /** One of the allowed strings; required when there is no default. */
  oneOf<T extends string>(name: string, allowed: readonly T[], dflt?: T): T {
    return oneOf(this.op, name, this.get(name) ?? dflt, allowed);
  }

  /** A seed for seedFor and the random ops: an integer in [0, 2^53); undefined when not given. */
  seed(name = 'seed'): number | undefined {
    const v = this.get(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > Number.MAX_SAFE_INTEGER)
      throw new ValueError(this.op, `${name} must be an integer in [0, ${Number.MAX_SAFE_INTEGER}], got ${showValue(v)}`);
    return v;
  }

  /** The parameters' dtype: a floating-point one, float32 by default. */
  dtype(): FloatDType {
    const v = this.get('dtype') ?? 'float32';
    if (!isDType(v) || !isFloatDType(v)) throw new DTypeError(this.op, `dtype must be a floating-point dtype, got ${showValue(v)}`);
    return v as FloatDType;
  }

  /** The device, getDefaultDevice() by default. */
  device(): Device {
    return checkDevice(this.op, this.get('device') ?? getDefaultDevice());
  }

  /** dtype, device, and the seed when one is given: the options of initNormal and initUniform. */
  init(): { dtype: FloatDType; device: Device; seed?: number } {
    const seed = this.seed();
    return { dtype: this.dtype(), device: this.device(), ...(seed === undefined ? {} : { seed }) };
  }
}
