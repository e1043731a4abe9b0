/**
 * Valid-input fuzz cases: each draws an op, a random shape (sizes no tile divides), random data and often
 * non-contiguous views, runs lmforge, and compares with the float64 references in test/reference/ under an
 * explicit tolerance. A case throws (with what it ran) when a result is off.
 */
import * as lm from '../../lib/index.js';
import type { DType, Tensor } from '../../lib/index.js';
import { assertClose, assertShape, TOL, type Tol } from '../reference/check.js';
import { BINARY, refBinary, refBinaryScalar, refUnary, UNARY, type BinaryName, type UnaryName } from '../reference/elementwise.js';
import { refAttention } from '../reference/attention.js';
import { refActivation, refAlibiSlopes, refErf, refGated, refLayerNorm, refRmsNorm, refRope } from '../reference/layers.js';
import { refMatmul, refMatmulBound } from '../reference/matmul.js';
import { broadcastIndex, broadcastShapes, indexOf, map1, map2, nd, numel, offsetOf, stridesOf, type NdArray } from '../reference/ndarray.js';
import type { Rng } from '../reference/prng.js';
import { refReduce, type ReduceName } from '../reference/reduce.js';
import { refEmbedding, refSoftmax } from '../reference/softmax.js';
import { refCrossEntropyZ } from '../reference/layers_fused.js';
import { refExpand, refPermute, refReshape, refSlice, refTranspose } from '../reference/views.js';
import { evenDim, input, oddDim, pick, randShape, show, type Input } from './inputs.js';

type FD = 'float32' | 'float64' | 'bfloat16' | 'float16';

/** What the case ran, for its failure message. */
export interface Ctx {
  what: string;
}

function expectResult(got: Tensor, dtype: DType, want: NdArray, tol: Tol, what: string): void {
  if (got.dtype !== dtype) throw new Error(`${what}: dtype ${got.dtype}, expected ${dtype}`);
  assertShape(got.shape, want.shape, what);
  assertClose(got.dataSync(), want.data, tol, what);
}

/** |got - want| <= rtol·|want| + atol·bound[i], elementwise (bound: a sum of magnitudes, e.g. Σ|a||b|). */
function expectBound(got: Tensor, want: NdArray, bound: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  assertShape(got.shape, want.shape, what);
  const g = got.dataSync();
  const bad: string[] = [];
  for (let i = 0; i < want.data.length; i++) {
    const e = want.data[i]!;
    const ok = Number.isNaN(e) ? Number.isNaN(g[i]!) : Math.abs(g[i]! - e) <= rtol * Math.abs(e) + atol * bound[i]! + 1e-300;
    if (!ok && bad.push(`[${i}] got ${g[i]} expected ${e} (bound ${bound[i]})`) >= 5) break;
  }
  if (bad.length > 0) throw new Error(`${what}: outside rtol ${rtol} + ${atol}·bound: ${bad.join('; ')}`);
}

const abs = (a: NdArray): NdArray => map1(a, Math.abs);
/** Shape limits (elements, largest size): now and then past 16384 elements, where the CPU kernels split rows across threads. */
const big = (r: Rng): [number, number] => (r.next() < 0.08 ? [40000, 301] : [900, 23]);
const f32or64 = (r: Rng): 'float32' | 'float64' => (r.next() < 0.7 ? 'float32' : 'float64');
const anyFloat = (r: Rng): FD => pick(r, ['float32', 'float32', 'float64', 'bfloat16', 'float16'] as const);
/** A number operand enters the computation in the tensor's precision: float32 unless the tensor is float64. */
const scalarIn = (s: number, dtype: FD): number => (dtype === 'float64' ? s : Math.fround(s));

// ---- elementwise ----

const UNARY_DOMAIN: Record<UnaryName | 'erf' | 'sign', [number, number]> = {
  neg: [-3, 3], exp: [-4, 4], log: [0.01, 50], sqrt: [0.01, 50], rsqrt: [0.01, 50], abs: [-3, 3], tanh: [-4, 4],
  sigmoid: [-8, 8], relu: [-3, 3], sin: [-7, 7], cos: [-7, 7], square: [-50, 50], reciprocal: [-3, 3], erf: [-3, 3], sign: [-3, 3],
};
const UNARY_REF: Record<keyof typeof UNARY_DOMAIN, (x: number) => number> = { ...UNARY, erf: refErf, sign: Math.sign };

function unaryCase(r: Rng, c: Ctx): void {
  const op = pick(r, Object.keys(UNARY_DOMAIN) as (keyof typeof UNARY_DOMAIN)[]);
  const dtype = anyFloat(r);
  const [lo, hi] = UNARY_DOMAIN[op];
  const x = input(r, randShape(r, 0, 4, ...big(r)), dtype, { lo, hi, expand: true });
  c.what = `${op}(${show(x.t)} ${x.layout})`;
  const got = r.next() < 0.5 ? (lm[op] as (t: Tensor) => Tensor)(x.t) : (x.t[op] as () => Tensor).call(x.t);
  expectResult(got, dtype, op === 'erf' || op === 'sign' ? map1(x.a, UNARY_REF[op]) : refUnary(op, x.a), TOL[dtype], c.what);
}

/** Two shapes that broadcast to `out`: dims dropped from the front or set to 1. */
function broadcastPair(r: Rng, out: number[]): [number[], number[]] {
  const one = (): number[] => {
    const s = out.slice(r.next() < 0.3 ? r.int(0, out.length + 1) : 0);
    return s.map((d) => (r.next() < 0.25 ? 1 : d));
  };
  return r.next() < 0.4 ? [[...out], one()] : [one(), one()];
}

const BINARY_DOMAIN: Record<BinaryName, [[number, number], [number, number]]> = {
  add: [[-3, 3], [-3, 3]], sub: [[-3, 3], [-3, 3]], mul: [[-3, 3], [-3, 3]], div: [[-3, 3], [0.2, 3]],
  pow: [[0.1, 3], [-2, 2]], maximum: [[-3, 3], [-3, 3]], minimum: [[-3, 3], [-3, 3]],
};

function binaryCase(r: Rng, c: Ctx): void {
  const op = pick(r, Object.keys(BINARY_DOMAIN) as BinaryName[]);
  const dtype = anyFloat(r);
  const [[alo, ahi], [blo, bhi]] = BINARY_DOMAIN[op];
  const out = randShape(r, 0, 4, ...big(r));
  const fn = lm[op] as (a: Tensor | number, b: Tensor | number) => Tensor;
  const mode = r.int(0, 4);
  if (mode === 0) {
    // tensor op number
    const a = input(r, out, dtype, { lo: alo, hi: ahi, expand: true });
    const s = r.uniform(blo, bhi);
    c.what = `${op}(${show(a.t)} ${a.layout}, ${s})`;
    expectResult(fn(a.t, s), dtype, refBinaryScalar(op, a.a, scalarIn(s, dtype)), TOL[dtype], c.what);
  } else if (mode === 1) {
    // number op tensor: the number takes the first operand's domain, the tensor the second's
    const b = input(r, out, dtype, { lo: blo, hi: bhi, expand: true });
    const s = r.uniform(alo, ahi);
    c.what = `${op}(${s}, ${show(b.t)} ${b.layout})`;
    expectResult(fn(s, b.t), dtype, refBinaryScalar(op, b.a, scalarIn(s, dtype), true), TOL[dtype], c.what);
  } else {
    const [sa, sb] = broadcastPair(r, out);
    const a = input(r, sa, dtype, { lo: alo, hi: ahi, expand: true });
    const b = input(r, sb, dtype, { lo: blo, hi: bhi, expand: true });
    c.what = `${op}(${show(a.t)} ${a.layout}, ${show(b.t)} ${b.layout})`;
    const got = mode === 2 ? fn(a.t, b.t) : (a.t[op] as (o: Tensor) => Tensor).call(a.t, b.t);
    expectResult(got, dtype, refBinary(op, a.a, b.a), TOL[dtype], c.what);
  }
}

const COMPARE = { gt: (x: number, y: number) => x > y, ge: (x: number, y: number) => x >= y, lt: (x: number, y: number) => x < y, le: (x: number, y: number) => x <= y, eq: (x: number, y: number) => x === y, ne: (x: number, y: number) => x !== y };

/** f over three broadcast operands. */
function map3(a: NdArray, b: NdArray, cnd: NdArray, f: (x: number, y: number, z: number) => number): NdArray {
  const shape = broadcastShapes(broadcastShapes(a.shape, b.shape)!, cnd.shape)!;
  const out = nd(shape);
  const read = (t: NdArray, idx: number[]): number => t.data[offsetOf(broadcastIndex(idx, t.shape), stridesOf(t.shape))]!;
  for (let i = 0; i < out.data.length; i++) {
    const idx = indexOf(i, shape);
    out.data[i] = f(read(a, idx), read(b, idx), read(cnd, idx));
  }
  return out;
}

function compareCase(r: Rng, c: Ctx): void {
  const dtype = f32or64(r);
  const out = randShape(r, 0, 4);
  const [sa, sb] = broadcastPair(r, out);
  // small integers, so that ties (eq, ge, le) happen
  const a = input(r, sa, dtype, { lo: -2, hi: 2, ints: true, expand: true });
  const b = input(r, sb, dtype, { lo: -2, hi: 2, ints: true, expand: true });
  if (r.next() < 0.3) {
    const cond = input(r, broadcastPair(r, out)[0], dtype, { lo: 0, hi: 1, ints: true, expand: true });
    c.what = `where(${show(cond.t)} ${cond.layout}, ${show(a.t)} ${a.layout}, ${show(b.t)} ${b.layout})`;
    expectResult(lm.where(cond.t, a.t, b.t), dtype, map3(a.a, b.a, cond.a, (x, y, z) => (z !== 0 ? x : y)), TOL[dtype], c.what);
    return;
  }
  const op = pick(r, Object.keys(COMPARE) as (keyof typeof COMPARE)[]);
  c.what = `${op}(${show(a.t)} ${a.layout}, ${show(b.t)} ${b.layout})`;
  const want = map2(a.a, b.a, (x, y) => (COMPARE[op](x, y) ? 1 : 0));
  expectResult(lm[op](a.t, b.t), dtype, want, { rtol: 0, atol: 0 }, c.what);
}

// ---- reductions ----

function reduceCase(r: Rng, c: Ctx): void {
  const op = pick(r, ['sum', 'mean', 'max', 'min', 'argmax', 'argmin'] as ReduceName[]);
  const dtype = f32or64(r);
  const shape = randShape(r, 1, 4, ...big(r));
  const x = input(r, shape, dtype, { expand: op !== 'argmax' && op !== 'argmin' });
  const keepdim = r.next() < 0.4;
  const n = shape.length;
  const neg = (d: number): number => (r.next() < 0.4 ? d - n : d);
  if (op === 'argmax' || op === 'argmin') {
    const dim = r.next() < 0.25 ? undefined : neg(r.int(0, n));
    c.what = `${op}(${show(x.t)} ${x.layout}, dim ${show(dim)}, keepdim ${keepdim})`;
    const got = r.next() < 0.5 ? lm[op](x.t, dim, keepdim) : x.t[op](dim, keepdim);
    expectResult(got, 'int32', refReduce(op, x.a, dim === undefined ? undefined : [dim], keepdim), { rtol: 0, atol: 0 }, c.what);
    return;
  }
  let dims: number | number[] | undefined;
  const u = r.next();
  if (u < 0.2) dims = undefined;
  else if (u < 0.5) dims = neg(r.int(0, n));
  else dims = Array.from({ length: n }, (_, i) => i).filter(() => r.next() < 0.5).map(neg);
  c.what = `${op}(${show(x.t)} ${x.layout}, dim ${show(dims)}, keepdim ${keepdim})`;
  const refDims = dims === undefined ? undefined : Array.isArray(dims) ? dims : [dims];
  // reducing over no dimension returns the input unchanged
  const want = refDims !== undefined && refDims.length === 0 ? x.a : refReduce(op, x.a, refDims, keepdim);
  const fn = lm[op] as (t: Tensor, d?: number | number[], k?: boolean) => Tensor;
  const got = fn(x.t, dims, keepdim);
  if (got.dtype !== dtype) throw new Error(`${c.what}: dtype ${got.dtype}`);
  if (op === 'max' || op === 'min') return expectResult(got, dtype, want, { rtol: 0, atol: 0 }, c.what);
  // accumulated in float64: the float32 result is off by its own rounding, plus a little for any partial sums
  const bound = refDims !== undefined && refDims.length === 0 ? abs(x.a) : refReduce(op, abs(x.a), refDims, keepdim);
  expectBound(got, want, bound.data, dtype === 'float64' ? 1e-14 : 2 ** -23, dtype === 'float64' ? 1e-14 : 1e-6, c.what);
}

// ---- matmul ----

function matmulCase(r: Rng, c: Ctx): void {
  const dtype = pick(r, ['float32', 'float32', 'float64', 'bfloat16'] as const);
  // now and then a product large enough to be split across threads and cache blocks
  const large = r.next() < 0.05;
  const M = oddDim(r, 1, large ? 199 : 47), K = oddDim(r, 1, large ? 301 : 71), N = oddDim(r, 1, large ? 199 : 47);
  const kind = pick(r, ['matmul', 'matmul', 'method', 'bmm', 'linear', 'vector']);
  let sa: number[], sb: number[];
  const batch = kind === 'bmm' ? [oddDim(r, 1, large ? 2 : 5)] : r.next() < 0.5 || large ? [] : randShape(r, 1, 2, 15, 5);
  if (kind === 'bmm') [sa, sb] = [[...batch, M, K], [...batch, K, N]];
  else if (kind === 'linear') [sa, sb] = [[...batch, M, K], [N, K]];
  else if (kind === 'vector') [sa, sb] = r.next() < 0.5 ? [[K], [...batch, K, N]] : [[...batch, M, K], [K]];
  else {
    const [ba, bb] = broadcastPair(r, batch);
    [sa, sb] = [[...ba, M, K], [...bb, K, N]];
  }
  const a = input(r, sa, dtype, { lo: -1, hi: 1 });
  const b = input(r, sb, dtype, { lo: -1, hi: 1 });
  let got: Tensor, want: NdArray, bound: Float64Array, extra: Float64Array | null = null;
  if (kind === 'linear') {
    const bias = r.next() < 0.5 ? input(r, [N], dtype, { lo: -1, hi: 1 }) : null;
    c.what = `linear(${show(a.t)} ${a.layout}, ${show(b.t)} ${b.layout}, bias ${bias ? bias.layout : 'none'})`;
    got = lm.linear(a.t, b.t, bias?.t);
    const wt = refTranspose(b.a, 0, 1);
    want = refMatmul(a.a, wt, bias?.a.data);
    bound = refMatmulBound(a.a, wt);
    if (bias) extra = refMatmul(abs(a.a), abs(wt), bias.a.data.map(Math.abs)).data;
  } else {
    const withBias = kind === 'matmul' && r.next() < 0.3;
    const bias = withBias ? input(r, [N], dtype, { lo: -1, hi: 1 }) : null;
    const product = refMatmul(a.a, b.a, bias?.a.data);
    const res = kind === 'matmul' && r.next() < 0.3 ? input(r, product.shape, dtype, { lo: -1, hi: 1, contiguous: r.next() < 0.5 }) : null;
    c.what = `${kind}(${show(a.t)} ${a.layout}, ${show(b.t)} ${b.layout}${bias ? `, bias ${bias.layout}` : ''}${res ? `, residual ${res.layout}` : ''})`;
    const opts = bias || res ? { ...(bias ? { bias: bias.t } : {}), ...(res ? { residual: res.t } : {}) } : undefined;
    got = kind === 'bmm' ? lm.bmm(a.t, b.t) : kind === 'method' ? a.t.matmul(b.t) : lm.matmul(a.t, b.t, opts);
    want = res ? map2(product, res.a, (p, q) => p + q) : product;
    bound = refMatmulBound(a.a, b.a);
    if (bias || res) extra = refMatmul(abs(a.a), abs(b.a), bias?.a.data.map(Math.abs), res?.a.data.map(Math.abs)).data;
  }
  if (got.dtype !== dtype) throw new Error(`${c.what}: dtype ${got.dtype}`);
  // fp32 accumulation: 8·eps·Σ|a||b| covers it (float64: 1e-13), plus the output's rounding to its dtype
  const eps = dtype === 'float64' ? 1e-13 : 8 * 2 ** -23;
  const out = dtype === 'bfloat16' ? 2 ** -8 : dtype === 'float64' ? 1e-15 : 2 ** -23;
  expectBound(got, want, extra ?? bound, out, eps, c.what);
}

// ---- views ----

/**
 * Values distinct as far as the dtype allows (so a wrong index map cannot hide), exactly representable:
 * integers within the dtype's exact range, visited in a scrambled order.
 */
function distinctInput(r: Rng, shape: number[], dtype: DType): Input {
  const n = numel(shape);
  const [lo, hi] = { int8: [-128, 127], uint8: [0, 255], bfloat16: [-256, 256], float16: [-2048, 2048] }[dtype as string] ?? [-1e6, 1e6];
  const span = hi! - lo! + 1, off = r.int(0, span);
  // 7919 is prime and divides no span here, so i -> i·7919 mod span is one-to-one
  const vals = Array.from({ length: n }, (_, i) => ((i * 7919 + off) % span) + lo!);
  const t = lm.tensor(vals, shape, dtype);
  return { t, a: nd(shape, t.dataSync()), layout: 'contiguous' };
}

function viewCase(r: Rng, c: Ctx): void {
  const dtype = pick(r, ['float32', 'float64', 'int32', 'bfloat16', 'int8', 'uint8', 'float16'] as DType[]);
  const x = distinctInput(r, randShape(r, 1, 4, 600), dtype);
  let t: Tensor = x.t, a = x.a;
  const steps: string[] = [];
  const nSteps = r.int(1, 5);
  for (let s = 0; s < nSteps; s++) {
    const n = a.shape.length;
    const kinds = n === 0 ? ['reshape', 'unsqueeze', 'expand'] : ['reshape', 'slice', 'unsqueeze', 'squeeze', 'expand'];
    if (n >= 2) kinds.push('transpose', 'permute', 'T');
    const k = pick(r, kinds);
    const neg = (d: number, nd0 = n): number => (r.next() < 0.4 ? d - nd0 : d);
    if (k === 'reshape') {
      // a random factorisation of the size, one entry sometimes -1
      const total = numel(a.shape);
      const shape: number[] = total === 0 ? [...pick(r, [[0], [0, 1], [3, 0]])] : [];
      let left = total;
      while (left > 1 && shape.length < 4) {
        const divs = Array.from({ length: left }, (_, i) => i + 1).filter((d) => left % d === 0 && d > 1);
        const d = pick(r, divs);
        shape.push(d);
        left /= d;
      }
      if (left > 1) shape.push(left);
      if (r.next() < 0.3) shape.splice(r.int(0, shape.length + 1), 0, 1);
      const arg = total > 0 && shape.length > 0 && r.next() < 0.3 ? shape.map((d, i, all) => (i === all.length - 1 ? -1 : d)) : shape;
      t = r.next() < 0.5 ? lm.reshape(t, arg) : t.reshape(arg);
      a = refReshape(a, shape);
      steps.push(`reshape(${arg})`);
    } else if (k === 'transpose' || k === 'T') {
      const i = k === 'T' ? n - 2 : r.int(0, n), j = k === 'T' ? n - 1 : r.int(0, n);
      t = k === 'T' ? t.T : lm.transpose(t, neg(i), neg(j));
      a = refTranspose(a, i, j);
      steps.push(k === 'T' ? '.T' : `transpose(${i},${j})`);
    } else if (k === 'permute') {
      const p = Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        const j = r.int(0, i + 1);
        [p[i], p[j]] = [p[j]!, p[i]!];
      }
      const arg = p.map((d) => neg(d));
      t = r.next() < 0.5 ? lm.permute(t, arg) : t.permute(arg);
      a = refPermute(a, p);
      steps.push(`permute(${arg})`);
    } else if (k === 'slice') {
      const d = r.int(0, n), size = a.shape[d]!;
      const start = r.int(-size - 2, size + 2), end = r.next() < 0.2 ? undefined : r.int(-size - 2, size + 3), step = r.int(1, 4);
      t = lm.slice(t, neg(d), start, end, step);
      a = refSlice(a, d, start, end, step);
      steps.push(`slice(${d},${start},${show(end)},${step})`);
    } else if (k === 'unsqueeze') {
      const d = r.int(0, n + 1);
      const arg = neg(d, n + 1);
      t = r.next() < 0.5 ? lm.unsqueeze(t, arg) : t.unsqueeze(arg);
      a = refReshape(a, [...a.shape.slice(0, d), 1, ...a.shape.slice(d)]);
      steps.push(`unsqueeze(${arg})`);
    } else if (k === 'squeeze') {
      const d = r.next() < 0.3 || n === 0 ? undefined : r.int(0, n);
      t = lm.squeeze(t, d === undefined ? undefined : neg(d));
      a = refReshape(a, d === undefined ? a.shape.filter((s2) => s2 !== 1) : a.shape[d] === 1 ? a.shape.filter((_, i) => i !== d) : a.shape);
      steps.push(`squeeze(${show(d)})`);
    } else {
      // expand: size-1 dims grow, and new leading dims appear
      const shape = a.shape.map((d) => (d === 1 && r.next() < 0.7 ? oddDim(r, 1, 7) : d));
      const lead = r.next() < 0.3 ? [oddDim(r, 1, 5)] : [];
      const full = [...lead, ...shape];
      if (numel(full) > 5000) continue;
      t = r.next() < 0.5 ? lm.expand(t, full) : t.expand(full);
      a = refExpand(a, full);
      steps.push(`expand(${full})`);
    }
  }
  c.what = `${dtype} ${show(x.t)}.${steps.join('.')}`;
  expectResult(t, dtype, a, { rtol: 0, atol: 0 }, c.what);
  // the view reads the base's storage; a contiguous copy or clone shows the same values, and so do ops on it
  const u = r.int(0, 4);
  if (u === 0) expectResult(t.contiguous(), dtype, a, { rtol: 0, atol: 0 }, `${c.what}.contiguous()`);
  else if (u === 1) {
    const cl = lm.clone(t);
    if (cl.sharesStorageWith(x.t)) throw new Error(`${c.what}: clone shares storage with its source`);
    expectResult(cl, dtype, a, { rtol: 0, atol: 0 }, `${c.what}.clone()`);
  } else if (u === 2 && (dtype === 'float32' || dtype === 'float64') && numel(a.shape) > 0) {
    const want = nd([], [a.data.reduce((p, q) => p + q, 0)]);
    expectBound(lm.sum(t), want, [a.data.reduce((p, q) => p + Math.abs(q), 0)], 2 ** -23, 1e-6, `sum(${c.what})`);
  } else if (u === 3) copyCase(r, t, a, dtype, c.what);
}

/**
 * copyInto a fresh tensor (or a stepped slice of a larger one) from the view, converting the dtype: the
 * values are integers that every target holds exactly, and the rest of the larger tensor stays zero.
 */
function copyCase(r: Rng, src: Tensor, a: NdArray, dtype: DType, what: string): void {
  const to = pick(r, ['float32', 'float64', 'int32', dtype] as DType[]);
  const shape = a.shape;
  if (shape.length === 0 || r.next() < 0.5) {
    const dst = lm.zeros(shape, { dtype: to });
    lm.copyInto(dst, src);
    expectResult(dst, to, a, { rtol: 0, atol: 0 }, `copyInto(zeros ${to}, ${what})`);
    return;
  }
  const big = lm.zeros([shape[0]! * 2 + 1, ...shape.slice(1)], { dtype: to });
  lm.copyInto(big.slice(0, 1, undefined, 2), src);
  const want = nd(big.shape);
  const inner = numel(shape.slice(1));
  for (let i = 0; i < shape[0]!; i++) for (let j = 0; j < inner; j++) want.data[(1 + 2 * i) * inner + j] = a.data[i * inner + j]!;
  expectResult(big, to, want, { rtol: 0, atol: 0 }, `copyInto(zeros ${to}.slice(0,1,,2), ${what})`);
}

function catCase(r: Rng, c: Ctx): void {
  const dtype = pick(r, ['float32', 'float64', 'int32'] as const);
  const shape = randShape(r, 1, 3, 300);
  const d = r.int(0, shape.length);
  const parts = Array.from({ length: r.int(1, 4) }, () => {
    const s = [...shape];
    s[d] = oddDim(r, 1, 7);
    return input(r, s, dtype, { ints: true, lo: -100, hi: 100, expand: true });
  });
  const dim = r.next() < 0.4 ? d - shape.length : d;
  c.what = `cat([${parts.map((p) => `${show(p.t)} ${p.layout}`).join(', ')}], ${dim})`;
  const outShape = [...shape];
  outShape[d] = parts.reduce((s, p) => s + p.a.shape[d]!, 0);
  // the reference: each output element reads the part its index along d falls into
  const want = nd(outShape);
  for (let i = 0; i < want.data.length; i++) {
    const idx = indexOf(i, outShape);
    let k = 0, off = idx[d]!;
    while (off >= parts[k]!.a.shape[d]!) off -= parts[k++]!.a.shape[d]!;
    const p = parts[k]!.a;
    idx[d] = off;
    want.data[i] = p.data[offsetOf(idx, stridesOf(p.shape))]!;
  }
  expectResult(lm.cat(parts.map((p) => p.t), dim), dtype, want, { rtol: 0, atol: 0 }, c.what);
}

// ---- softmax and cross-entropy ----

function softmaxCase(r: Rng, c: Ctx): void {
  const dtype = f32or64(r);
  const shape = randShape(r, 1, 4, ...big(r));
  const shift = r.next() < 0.2 ? r.uniform(-80, 80) : 0, spread = r.next() < 0.2 ? 12 : 4;
  const x = input(r, shape, dtype, { lo: shift - spread, hi: shift + spread, expand: true });
  const d = r.int(0, shape.length), dim = r.next() < 0.5 ? d - shape.length : d;
  const log = r.next() < 0.5;
  c.what = `${log ? 'logSoftmax' : 'softmax'}(${show(x.t)} ${x.layout}, ${dim})`;
  const got = r.next() < 0.5 ? (log ? lm.logSoftmax(x.t, dim) : lm.softmax(x.t, dim)) : log ? x.t.logSoftmax(dim) : x.t.softmax(dim);
  // float32: the output's rounding plus the rounding of x - max (|x| up to ~90)
  const tol = dtype === 'float64' ? { rtol: 1e-12, atol: 1e-13 } : { rtol: 1e-5, atol: log ? 2e-5 : 1e-6 };
  expectResult(got, dtype, refSoftmax(x.a, d, log), tol, c.what);
}

function crossEntropyCase(r: Rng, c: Ctx): void {
  const dtype = f32or64(r);
  const lead = randShape(r, 0, 2, 60, 13);
  const V = oddDim(r, 1, r.next() < 0.2 ? 300 : 40);
  const x = input(r, [...lead, V], dtype, { lo: -6, hi: 6 });
  const ignoreIndex = r.next() < 0.5 ? -100 : r.int(-5, V + 3);
  const targets = Array.from({ length: numel(lead) }, () => (r.next() < 0.15 ? ignoreIndex : r.int(0, V)));
  const reduction = pick(r, ['mean', 'sum', 'none', undefined] as const);
  const zLoss = r.next() < 0.3 ? r.uniform(0.001, 0.1) : undefined;
  const opts = { ...(ignoreIndex !== -100 || r.next() < 0.3 ? { ignoreIndex } : {}), ...(reduction ? { reduction } : {}), ...(zLoss !== undefined ? { zLoss } : {}) };
  const tt = lm.tensor(Int32Array.from(targets), lead);
  c.what = `crossEntropy(${show(x.t)} ${x.layout}, targets [${targets.slice(0, 8)}...], ${show(opts)})`;
  const got = lm.crossEntropy(x.t, tt, opts);
  const red = reduction ?? 'mean';
  const rows = refCrossEntropyZ(x.a.data, V, targets, zLoss ?? 0, ignoreIndex, red);
  const want = red === 'none' ? nd(lead, rows) : nd([], rows);
  const tol = dtype === 'float64' ? { rtol: 1e-12, atol: 1e-12 } : { rtol: 2e-5, atol: 2e-5 };
  expectResult(got, dtype, want, tol, c.what);
}

// ---- layer ops ----

function layerCase(r: Rng, c: Ctx): void {
  const dtype = f32or64(r);
  const kind = pick(r, ['activation', 'gated', 'layerNorm', 'rmsNorm', 'rope', 'alibi', 'embedding', 'dropout0']);
  const f64tol = { rtol: 1e-10, atol: 1e-12 };
  if (kind === 'activation') {
    const k = pick(r, ['relu', 'gelu', 'swish'] as const);
    const x = input(r, randShape(r, 1, 4), dtype, { lo: -5, hi: 5, expand: true });
    c.what = `activation(${show(x.t)} ${x.layout}, ${k})`;
    expectResult(lm.activation(x.t, k), dtype, refActivation(x.a, k), dtype === 'float64' ? f64tol : { rtol: 1e-6, atol: 1e-6 }, c.what);
  } else if (kind === 'gated') {
    const k = pick(r, ['glu', 'geglu', 'swiglu', 'reglu'] as const);
    const x = input(r, [...randShape(r, 0, 3, 200), evenDim(r, 2, 50)], dtype, { lo: -4, hi: 4, expand: true });
    c.what = `gatedActivation(${show(x.t)} ${x.layout}, ${k})`;
    expectResult(lm.gatedActivation(x.t, k), dtype, refGated(x.a, k), dtype === 'float64' ? f64tol : { rtol: 4e-6, atol: 2e-6 }, c.what);
  } else if (kind === 'layerNorm' || kind === 'rmsNorm') {
    const C = oddDim(r, 1, r.next() < 0.2 ? 300 : 41);
    const x = input(r, [...randShape(r, 0, 3, 200), C], dtype, { lo: -3, hi: 5, expand: true });
    const w = input(r, [C], dtype);
    const b = kind === 'layerNorm' && r.next() < 0.6 ? input(r, [C], dtype) : null;
    const eps = pick(r, [undefined, 1e-5, 1e-3, 0.5]);
    c.what = `${kind}(${show(x.t)} ${x.layout}, w ${w.layout}, b ${b ? b.layout : 'none'}, eps ${show(eps)})`;
    const e = eps ?? (kind === 'layerNorm' ? 1e-5 : 1e-6);
    const got = kind === 'layerNorm' ? lm.layerNorm(x.t, w.t, b?.t, eps) : lm.rmsNorm(x.t, w.t, eps);
    const want = kind === 'layerNorm' ? refLayerNorm(x.a, w.a.data, b?.a.data ?? null, e) : refRmsNorm(x.a, w.a.data, e);
    if (got.dtype !== dtype) throw new Error(`${c.what}: dtype ${got.dtype}`);
    // The float32 error is rounding of x (and of the mean) over the row's spread: max|x| / sqrt(var + eps)
    // times |w|, plus |b|. A row of equal values with a small eps is ill-conditioned, and that is allowed for.
    expectBound(got, want, normBound(x.a, w.a.data, b?.a.data ?? null, e, kind === 'rmsNorm'), dtype === 'float64' ? 1e-10 : 1e-5, dtype === 'float64' ? 1e-13 : 2e-6, c.what);
  } else if (kind === 'rope') {
    const D = evenDim(r, 2, 46);
    const x = input(r, [...randShape(r, 0, 2, 30, 5), oddDim(r, 1, 19), D], dtype, { lo: -2, hi: 2, expand: true });
    const base = pick(r, [undefined, 10000, 500, 1e6]);
    const pairing = pick(r, [undefined, 'half', 'interleaved'] as const);
    const offset = pick(r, [undefined, 0, r.int(1, 200)]);
    const opts = { ...(base !== undefined ? { base } : {}), ...(pairing ? { pairing } : {}), ...(offset !== undefined ? { offset } : {}) };
    c.what = `rope(${show(x.t)} ${x.layout}, ${show(opts)})`;
    // float32: the angle (offset + t)·θ is rounded, so the error grows with the position
    const tol = dtype === 'float64' ? f64tol : { rtol: 2e-5, atol: 2e-5 * (1 + (offset ?? 0) / 50) };
    expectResult(lm.rope(x.t, opts), dtype, refRope(x.a, base ?? 10000, pairing ?? 'half', offset ?? 0), tol, c.what);
  } else if (kind === 'alibi') {
    const n = r.int(1, 70);
    c.what = `alibiSlopes(${n})`;
    assertClose(lm.alibiSlopes(n), refAlibiSlopes(n), TOL.float64, c.what);
  } else if (kind === 'embedding') {
    const V = oddDim(r, 1, 60), D = oddDim(r, 1, 23);
    const w = input(r, [V, D], dtype);
    const ishape = randShape(r, 0, 3, 60, 7);
    const idx = Array.from({ length: numel(ishape) }, () => r.int(0, V));
    c.what = `embedding(${show(w.t)} ${w.layout}, indices [${ishape}])`;
    expectResult(lm.embedding(w.t, lm.tensor(Int32Array.from(idx), ishape)), dtype, refEmbedding(w.a, idx, ishape), { rtol: 0, atol: 0 }, c.what);
  } else {
    const x = input(r, randShape(r, 1, 3), dtype);
    c.what = `dropout(${show(x.t)}, 0)`;
    if (lm.dropout(x.t, 0) !== x.t) throw new Error(`${c.what} is not its input`);
  }
}

/** Per element: max|x| of its row / sqrt(var (mean square for RMS) + eps) · |w| + |b|. */
function normBound(x: NdArray, w: Float64Array, b: Float64Array | null, eps: number, rms: boolean): Float64Array {
  const C = x.shape[x.shape.length - 1]!;
  const out = new Float64Array(x.data.length);
  for (let r0 = 0; r0 < x.data.length; r0 += C) {
    const row = x.data.subarray(r0, r0 + C);
    const mu = rms ? 0 : row.reduce((s, v) => s + v, 0) / C;
    const v = row.reduce((s, q) => s + (q - mu) ** 2, 0) / C;
    const m = row.reduce((s, q) => Math.max(s, Math.abs(q)), 0);
    for (let c = 0; c < C; c++) out[r0 + c] = (m / Math.sqrt(v + eps)) * Math.abs(w[c]!) + (b ? Math.abs(b[c]!) : 0);
  }
  return out;
}

function attentionCase(r: Rng, c: Ctx): void {
  const dtype = f32or64(r);
  // now and then sequences longer than a tile (with fewer heads, to keep the reference cheap)
  const long = r.next() < 0.1;
  const B = long ? 1 : r.int(1, 3), Hkv = r.int(1, long ? 2 : 4), H = Hkv * r.int(1, long ? 3 : 4);
  const Tk = oddDim(r, 1, long ? 211 : 29), D = oddDim(r, 1, long ? 71 : 37);
  const causal = r.next() < 0.75;
  const Tq = r.int(1, Tk + 1);
  const position: lm.AttentionPosition | undefined = causal && r.next() < 0.4 ? 'alibi' : pick(r, [undefined, 'none', 'rope'] as const);
  const scale = r.next() < 0.3 ? r.uniform(0.05, 1) : undefined;
  const customSlopes = position === 'alibi' && r.next() < 0.3 ? Array.from({ length: H }, () => r.uniform(0.01, 1)) : undefined;
  // q, k, v as the model lays them out ([B, T, H, D] permuted to [B, H, T, D]) or contiguous
  const qkv = (heads: number, T: number): Input<'float32' | 'float64'> => {
    if (r.next() < 0.5) return input(r, [B, heads, T, D], dtype, { lo: -1.5, hi: 1.5, depth: 1 });
    const base = input(r, [B, T, heads, D], dtype, { lo: -1.5, hi: 1.5, contiguous: true });
    return { t: base.t.permute(0, 2, 1, 3), a: refPermute(base.a, [0, 2, 1, 3]), layout: 'permute(0,2,1,3)' };
  };
  const q = qkv(H, Tq), k = qkv(Hkv, Tk), v = qkv(Hkv, Tk);
  // packed documents: runs of ids along each row (a query sees at least itself)
  const docIds = r.next() < 0.25 ? Int32Array.from({ length: B * Tk }, (_, i) => Math.floor((i % Tk) / (1 + r.int(0, 7))) % 3) : null;
  const opts = {
    ...(r.next() < 0.5 || !causal ? { causal } : {}),
    ...(position ? { position } : {}),
    ...(scale !== undefined ? { scale } : {}),
    ...(customSlopes ? { alibiSlopes: customSlopes } : {}),
    ...(docIds ? { docIds: lm.tensor(docIds, [B, Tk]) } : {}),
  };
  c.what = `attention(q ${show(q.t)} ${q.layout}, k ${show(k.t)} ${k.layout}, v ${show(v.t)} ${v.layout}, ${show(opts)})`;
  const slopes = position === 'alibi' ? (customSlopes ?? refAlibiSlopes(H)) : null;
  const want = refAttention({ B, H, Hkv, Tq, Tk, D }, q.a.data, k.a.data, v.a.data, { causal, slopes, scale: scale ?? 1 / Math.sqrt(D), docIds });
  // float32: each output is a convex combination of values of v (|v| < 1.5), so the error is absolute
  const tol = dtype === 'float64' ? { rtol: 1e-10, atol: 1e-12 } : { rtol: 2e-5, atol: 1e-5 };
  expectResult(lm.attention(q.t, k.t, v.t, opts), dtype, nd([B, H, Tq, D], want.out), tol, c.what);
}

/** The families and how often each is drawn. */
export const FAMILIES: [name: string, weight: number, run: (r: Rng, c: Ctx) => void][] = [
  ['unary', 3, unaryCase],
  ['binary', 4, binaryCase],
  ['compare', 1, compareCase],
  ['reduce', 3, reduceCase],
  ['matmul', 3, matmulCase],
  ['views', 4, viewCase],
  ['cat', 1, catCase],
  ['softmax', 2, softmaxCase],
  ['crossEntropy', 2, crossEntropyCase],
  ['layers', 3, layerCase],
  ['attention', 2, attentionCase],
];

/** Runs valid case i (its own generator from label and base seed); returns the family and what ran. */
export function runValidCase(r: Rng): { family: string; what: string } {
  const total = FAMILIES.reduce((s, f) => s + f[1], 0);
  let u = r.next() * total;
  let fam = FAMILIES[0]!;
  for (const f of FAMILIES) {
    if ((u -= f[1]) < 0) {
      fam = f;
      break;
    }
  }
  const c: Ctx = { what: '' };
  try {
    lm.tidy(() => fam[2](r, c));
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    err.message = `[${fam[0]}] ${c.what || '(while building the case)'}: ${err.message}`;
    throw err;
  }
  return { family: fam[0], what: c.what };
}
