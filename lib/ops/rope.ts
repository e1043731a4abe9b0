/**
 * Rotary position embedding: rope() and its kernel-level twin fusedRope(), one native kernel each way
 * (native/kernels/rope.h; the backward pass is the inverse rotation).
 *
 * Where things are checked, once each: the public op and its kernel-level twin (fused*, every kernel
 * option, the kernel's own dtypes only; benches and tests use them) check what only JS sees (live Tensors,
 * option names, types and ranges) with the readers below, then call the *Kernel function, which checks
 * nothing more; the native op checks shapes, dtypes and devices. Defaults: LAYER_DEFAULTS (util.ts).
 */
import { attach, needsGrad } from '../autograd/record.js';
import type { DType } from '../dtype.js';
import { ArgumentTypeError, ShapeError, ValueError } from '../errors.js';
import { tidy } from '../memory.js';
import { native } from '../native.js';
import type { Tensor } from '../tensor.js';
import { checkOptions, describe, LAYER_DEFAULTS, liveTensor, oneOf, viaFloat32, wrap } from './util.js';

/** 'half' rotates (i, i + D/2), GPT-NeoX's convention; 'interleaved' rotates (2i, 2i+1), GPT-J's and Meta's. */
export type RopePairing = 'half' | 'interleaved';
export const ROPE_PAIRINGS: readonly RopePairing[] = ['half', 'interleaved'];

export interface RopeArgs {
  base: number;
  pairing: RopePairing;
  offset: number;
  /** 0: all of D. */
  rotaryDims: number;
}

/** RoPE options with their defaults; rotaryDims only where `keys` lists it. */
export function readRopeOptions(op: string, opts: object | undefined, keys: readonly string[]): RopeArgs {
  checkOptions(op, opts, keys);
  const o = (opts ?? {}) as { base?: unknown; pairing?: unknown; offset?: unknown; rotaryDims?: unknown };
  const base = o.base ?? LAYER_DEFAULTS.ropeBase;
  if (typeof base !== 'number') throw new ArgumentTypeError(op, `base must be a number, got ${describe(base)}`);
  if (!(base > 0) || !Number.isFinite(base)) throw new ValueError(op, `base must be a positive finite number, got ${base}`);
  const pairing = oneOf(op, 'pairing', o.pairing ?? LAYER_DEFAULTS.ropePairing, ROPE_PAIRINGS);
  const offset = o.offset ?? LAYER_DEFAULTS.ropeOffset;
  if (typeof offset !== 'number' || !Number.isInteger(offset)) throw new ArgumentTypeError(op, `offset must be an integer, got ${describe(offset)}`);
  if (offset < 0) throw new ValueError(op, `offset must be non-negative, got ${offset}`);
  const rotaryDims = o.rotaryDims ?? 0;
  if (typeof rotaryDims !== 'number' || !Number.isInteger(rotaryDims) || rotaryDims < 0)
    throw new ValueError(op, `rotaryDims must be a positive even integer, got ${describe(rotaryDims)}`);
  return { base, pairing, offset, rotaryDims };
}

/** RoPE on x [B, H, T, D] with its backward rule (the inverse rotation). */
export function ropeKernel<D extends DType>(x: Tensor<D>, a: RopeArgs): Tensor<D> {
  const y = wrap<D>(native.rope(x.handle, a.base, a.pairing, a.offset, a.rotaryDims, false));
  if (!needsGrad(x)) return y;
  return attach('rope', y, [x], (g) => [wrap(native.rope(g.handle, a.base, a.pairing, a.offset, a.rotaryDims, true))]);
}

// ---- RoPE ----

export interface RopeOptions {
  /** θ_i = base^(-2i/D) (default LAYER_DEFAULTS.ropeBase, 10000). */
  base?: number;
  /** 'half' rotates (i, i + D/2), GPT-NeoX's convention (default); 'interleaved' rotates (2i, 2i+1), GPT-J's and Meta's. */
  pairing?: RopePairing;
  /** Position of the first row (default 0): the number of cached positions before x during generation. */
  offset?: number;
}

/**
 * Rotary position embedding (Su et al., 2021) on x [..., T, D] (usually [B, H, T, D]): the pair
 * (x_a, x_b) of row t becomes (x_a·cos φ - x_b·sin φ, x_a·sin φ + x_b·cos φ) with φ = (offset + t)·θ_i,
 * θ_i = base^(-2i/D), for i = 0 .. D/2 - 1. D must be even.
 */
export function rope<D extends DType>(x: Tensor<D>, opts?: RopeOptions): Tensor<D> {
  const op = 'rope';
  liveTensor(op, 'x', x);
  const a = readRopeOptions(op, opts, ['base', 'pairing', 'offset']);
  // The kernel takes [B, H, T, D]: any other leading dims fold into B, so x needs T and D.
  if (x.ndim < 2) throw new ShapeError(op, `x must be [..., T, D], got [${x.shape.join(', ')}]`);
  return viaFloat32<D>([x], ([x]) => {
    if (x!.ndim === 4) return ropeKernel(x!, a);
    const [T, Dm] = x!.shape.slice(-2) as [number, number];
    return tidy(() => ropeKernel(x!.reshape(-1, 1, T, Dm), a).reshape(x!.shape));
  });
}

// ---- kernel-level entry point ----

export interface FusedRopeOptions {
  /** theta_i = base^(-2i/d); default LAYER_DEFAULTS.ropeBase. */
  base?: number;
  /** Default LAYER_DEFAULTS.ropePairing. */
  pairing?: RopePairing;
  /** Position of the first row (default 0): a cache of `offset` earlier tokens. */
  offset?: number;
  /** Rotate only the first rotaryDims dims of each head (even, <= D); default all. */
  rotaryDims?: number;
}

/** Rotary position embedding on x [B, H, T, D]: position offset + t. */
export function fusedRope<D extends DType>(x: Tensor<D>, opts?: FusedRopeOptions): Tensor<D> {
  const op = 'fusedRope';
  liveTensor(op, 'input', x);
  return ropeKernel(x, readRopeOptions(op, opts, ['base', 'pairing', 'offset', 'rotaryDims']));
}
