/** Float64 references for the elementwise ops, from their definitions. Binary ops broadcast (NumPy rules). */
import { map1, map2, type NdArray } from './ndarray.js';

export type UnaryName = 'neg' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'abs' | 'tanh' | 'sigmoid' | 'relu' | 'sin' | 'cos' | 'square' | 'reciprocal';
export type BinaryName = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum';

export const UNARY: Record<UnaryName, (x: number) => number> = {
  neg: (x) => -x,
  exp: (x) => Math.exp(x),
  log: (x) => Math.log(x),
  sqrt: (x) => Math.sqrt(x),
  rsqrt: (x) => 1 / Math.sqrt(x),
  abs: (x) => Math.abs(x),
  tanh: (x) => Math.tanh(x),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  relu: (x) => (Number.isNaN(x) ? NaN : x > 0 ? x : 0),
  sin: (x) => Math.sin(x),
  cos: (x) => Math.cos(x),
  square: (x) => x * x,
  reciprocal: (x) => 1 / x,
};

/** IEEE 754 / C99 pow: pow(1, y) = 1 and pow(x, ±0) = 1 even for NaN; pow(-1, ±inf) = 1. (JS Math.pow says NaN.) */
export function ieeePow(x: number, y: number): number {
  if (x === 1 || y === 0) return 1;
  if (x === -1 && !Number.isFinite(y) && !Number.isNaN(y)) return 1;
  return Math.pow(x, y);
}

export const BINARY: Record<BinaryName, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: ieeePow,
  // NaN in either operand gives NaN
  maximum: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a > b ? a : b),
  minimum: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a < b ? a : b),
};

export function refUnary(op: UnaryName, a: NdArray): NdArray {
  return map1(a, UNARY[op]);
}

export function refBinary(op: BinaryName, a: NdArray, b: NdArray): NdArray {
  return map2(a, b, BINARY[op]);
}

/** op(a, s) or, with scalarFirst, op(s, a). */
export function refBinaryScalar(op: BinaryName, a: NdArray, s: number, scalarFirst = false): NdArray {
  const f = BINARY[op];
  return map1(a, (x) => (scalarFirst ? f(s, x) : f(x, s)));
}
