/** Parameter initialisation: seeded normal and uniform draws, and per-name seeds derived from one model seed. */
import type { Device, FloatDType } from '../dtype.js';
import { ValueError } from '../errors.js';
import { rand, randn } from '../ops/creation.js';
import type { Tensor } from '../tensor.js';
import { checkInt, checkString, showValue } from '../ops/util.js';
import { OptionReader } from './option_reader.js';

export interface InitOptions {
  dtype?: FloatDType;
  device?: Device;
  /** Seed of this draw; the global stream (manualSeed) when omitted. */
  seed?: number;
}

const INIT_KEYS = ['dtype', 'device', 'seed'] as const;

/** Normal(0, std²) numbers. */
export function initNormal(shape: readonly number[], std: number, opts: InitOptions = {}): Tensor {
  const op = 'initNormal';
  const o = new OptionReader(op, opts, INIT_KEYS);
  if (typeof std !== 'number' || !(std >= 0) || !Number.isFinite(std)) throw new ValueError(op, `std must be a non-negative finite number, got ${showValue(std)}`);
  return randn(shape, { ...o.init(), std });
}

/** Uniform numbers in [-bound, bound). */
export function initUniform(shape: readonly number[], bound: number, opts: InitOptions = {}): Tensor {
  const op = 'initUniform';
  const o = new OptionReader(op, opts, INIT_KEYS);
  if (typeof bound !== 'number' || !(bound >= 0) || !Number.isFinite(bound)) throw new ValueError(op, `bound must be a non-negative finite number, got ${showValue(bound)}`);
  return rand(shape, { ...o.init(), low: -bound, high: bound });
}

/**
 * A 53-bit seed for `name` under a model seed (cyrb53 over "seed:name"). Each parameter gets its own
 * Philox key, so a parameter's initial values depend on the model seed and its name alone, not on how
 * many tensors were drawn before it.
 */
export function seedFor(seed: number, name: string): number {
  checkInt('seedFor', 'seed', seed, 0, Number.MAX_SAFE_INTEGER);
  checkString('seedFor', 'name', name);
  const s = `${seed}:${name}`;
  let h1 = 0xdeadbeef, h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
