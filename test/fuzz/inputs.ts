/**
 * Random shapes and inputs for the fuzz suite. Sizes avoid multiples of 2, 3, 4, 8 and 16 (so no kernel
 * tile divides them) unless an op needs an even size, which is then twice an odd one. An input is often a
 * non-contiguous view (transposed, permuted, stepped slice, offset slice, expanded, or a view of a view),
 * and its reference values are built from the base tensor's values with the reference index maps, so a
 * wrong view shows up as a wrong result of whatever op reads it.
 */
import { tensor, type DType, type Tensor } from '../../lib/index.js';
import { nd, numel, type NdArray } from '../reference/ndarray.js';
import type { Rng } from '../reference/prng.js';
import { refExpand, refPermute, refSlice, refTranspose } from '../reference/views.js';

export function pick<T>(r: Rng, xs: readonly T[]): T {
  return xs[r.int(0, xs.length)]!;
}

/** An integer in [lo, hi] that no tile size divides: 1, 2 or coprime with 6 (5, 7, 11, 13, ...). */
export function oddDim(r: Rng, lo: number, hi: number): number {
  let d = r.int(lo, hi + 1);
  while (d > 2 && (d % 2 === 0 || d % 3 === 0)) d = d + 1 > hi ? Math.max(lo, 1) : d + 1;
  return d;
}

/** An even size that is not a multiple of 4 (twice an odd size). */
export function evenDim(r: Rng, lo: number, hi: number): number {
  return 2 * oddDim(r, Math.max(1, Math.ceil(lo / 2)), Math.max(1, Math.floor(hi / 2)));
}

/** A shape of ndim in [minNd, maxNd] with at most maxNumel elements. */
export function randShape(r: Rng, minNd: number, maxNd: number, maxNumel = 900, maxDim = 23): number[] {
  const n = r.int(minNd, maxNd + 1);
  const s: number[] = [];
  let left = maxNumel;
  for (let i = 0; i < n; i++) {
    const d = oddDim(r, 1, Math.max(1, Math.min(maxDim, Math.floor(left / Math.max(1, 2 ** (n - i - 1))))));
    s.push(d);
    left = Math.max(1, Math.floor(left / d));
  }
  return s;
}

export interface Input<D extends DType = DType> {
  t: Tensor<D>;
  /** The values t shows, row-major in t's shape. */
  a: NdArray;
  /** How t was made, for failure messages: 'contiguous', 'transpose(0,2)', 'slice(1,2,::3)' ... */
  layout: string;
}

/** The values a tensor of dtype holds for v (float32, bfloat16 and float16 inputs are made from float32). */
function baseTensor<D extends DType>(r: Rng, shape: number[], dtype: D, lo: number, hi: number, ints: boolean): Input<D> {
  const n = numel(shape);
  const vals = ints ? Array.from({ length: n }, () => r.int(lo, hi + 1)) : Array.from(r.array(n, lo, hi));
  const t = tensor(vals, shape, dtype) as Tensor<D>;
  return { t, a: nd(shape, t.dataSync()), layout: 'contiguous' };
}

export interface InputOptions {
  lo?: number;
  hi?: number;
  /** Integer values in [lo, hi] (for exact checks and ties). */
  ints?: boolean;
  /** Allow expanded views (repeated elements through stride 0): fine for inputs that are only read. */
  expand?: boolean;
  /** Force a contiguous tensor. */
  contiguous?: boolean;
  /** Views of views down to this depth (default 2). */
  depth?: number;
}

/** A tensor showing shape `shape` in dtype, often a non-contiguous view, with the values it shows. */
export function input<D extends DType>(r: Rng, shape: readonly number[], dtype: D, o: InputOptions = {}): Input<D> {
  const lo = o.lo ?? -3, hi = o.hi ?? 3, depth = o.depth ?? 2;
  const make = (s: number[]): Input<D> =>
    depth > 1 && r.next() < 0.3 ? input(r, s, dtype, { ...o, depth: depth - 1 }) : baseTensor(r, s, dtype, lo, hi, o.ints ?? false);
  const nd0 = shape.length;
  const kinds = ['contiguous', 'slice', 'offset'];
  if (nd0 >= 2) kinds.push('transpose', 'permute');
  if (o.expand && shape.some((d) => d > 1)) kinds.push('expand');
  const kind = o.contiguous || nd0 === 0 ? 'contiguous' : pick(r, kinds);
  const s = [...shape];
  switch (kind) {
    case 'transpose': {
      const i = r.int(0, nd0), j = (i + r.int(1, nd0)) % nd0;
      [s[i], s[j]] = [s[j]!, s[i]!];
      const b = make(s);
      // negative dims half the time: the op must normalise them
      const di = r.next() < 0.5 ? i - nd0 : i, dj = r.next() < 0.5 ? j - nd0 : j;
      return { t: b.t.transpose(di, dj), a: refTranspose(b.a, i, j), layout: `${b.layout}.transpose(${di},${dj})` };
    }
    case 'permute': {
      const p = Array.from({ length: nd0 }, (_, i) => i);
      for (let i = nd0 - 1; i > 0; i--) {
        const j = r.int(0, i + 1);
        [p[i], p[j]] = [p[j]!, p[i]!];
      }
      const bs = new Array<number>(nd0);
      p.forEach((src, k) => (bs[src] = shape[k]!));
      const b = make(bs);
      return { t: b.t.permute(p), a: refPermute(b.a, p), layout: `${b.layout}.permute(${p})` };
    }
    case 'slice':
    case 'offset': {
      const d = r.int(0, nd0);
      const step = kind === 'offset' ? 1 : r.int(1, 4);
      const start = r.int(kind === 'offset' ? 1 : 0, 4);
      const end = start + (shape[d]! - 1) * step + 1;
      const extra = r.int(0, 3);
      s[d] = end + extra;
      const b = make(s);
      // Bounds as Python takes them: from the back, left out, or past the end (clamped).
      const u = r.next();
      const endArg = extra === 0 ? (u < 0.3 ? undefined : u < 0.5 ? end + r.int(1, 100) : end) : u < 0.3 ? -extra : end;
      const startArg = r.next() < 0.3 ? start - s[d]! : start;
      return { t: b.t.slice(d, startArg, endArg, step), a: refSlice(b.a, d, start, end, step), layout: `${b.layout}.slice(${d},${startArg},${String(endArg)},${step})` };
    }
    case 'expand': {
      const big = shape.map((x, i) => i).filter((i) => shape[i]! > 1);
      const ones = big.filter(() => r.next() < 0.5);
      if (ones.length === 0) ones.push(pick(r, big));
      for (const i of ones) s[i] = 1;
      const b = make(s);
      return { t: b.t.expand(shape as number[]), a: refExpand(b.a, shape), layout: `${b.layout}.expand(${shape})` };
    }
    default:
      return baseTensor(r, s, dtype, lo, hi, o.ints ?? false);
  }
}

/** A string for a failure message. */
export function show(x: unknown): string {
  if (x === undefined) return 'undefined';
  if (typeof x === 'number') return Object.is(x, -0) ? '-0' : String(x);
  if (typeof x === 'string') return JSON.stringify(x);
  if (typeof x === 'function') return 'fn';
  if (typeof x === 'object' && x !== null && 'shape' in x && 'dtype' in x && 'isDisposed' in x) {
    const t = x as Tensor;
    return `Tensor(${t.dtype}, [${t.shape.join(', ')}]${t.isDisposed ? ', disposed' : ''})`;
  }
  if (Array.isArray(x)) return `[${x.map(show).join(', ')}]`;
  if (ArrayBuffer.isView(x)) return `${x.constructor.name}(${(x as unknown as ArrayLike<number>).length})`;
  if (typeof x === 'object' && x !== null) {
    const name = x.constructor?.name;
    if (name && name !== 'Object') return name;
    return `{ ${Object.entries(x).map(([k, v]) => `${k}: ${show(v)}`).join(', ')} }`;
  }
  return String(x);
}
