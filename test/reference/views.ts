/** Views as index maps: each returns the values a view must show, built by gather() from the definition. */
import { gather, normDim, numel, type NdArray } from './ndarray.js';

/** Row-major order is kept; one size may be -1. */
export function refReshape(a: NdArray, shape: readonly number[]): NdArray {
  const known = shape.filter((d) => d !== -1).reduce((x, y) => x * y, 1);
  const s = shape.map((d) => (d === -1 ? a.data.length / known : d));
  if (numel(s) !== a.data.length) throw new Error('refReshape: size mismatch');
  return { shape: s, data: Float64Array.from(a.data) };
}

export function refPermute(a: NdArray, dims: readonly number[]): NdArray {
  const p = dims.map((d) => normDim(d, a.shape.length));
  const outShape = p.map((d) => a.shape[d]!);
  return gather(a, outShape, (o) => {
    const src = new Array<number>(a.shape.length);
    p.forEach((d, i) => (src[d] = o[i]!));
    return src;
  });
}

export function refTranspose(a: NdArray, d0: number, d1: number): NdArray {
  const n = a.shape.length;
  const dims = Array.from({ length: n }, (_, i) => i);
  const x = normDim(d0, n), y = normDim(d1, n);
  [dims[x], dims[y]] = [dims[y]!, dims[x]!];
  return refPermute(a, dims);
}

/** Python slice bounds for a positive step: negatives count from the end, then clamp to [0, n]. */
export function sliceBounds(n: number, start: number, end: number | undefined, step: number): { start: number; count: number } {
  if (step <= 0) throw new Error('step must be positive');
  let s = start < 0 ? start + n : start;
  let e = end === undefined ? n : end < 0 ? end + n : end;
  s = Math.min(Math.max(s, 0), n);
  e = Math.min(Math.max(e, s), n);
  return { start: s, count: Math.ceil((e - s) / step) };
}

export function refSlice(a: NdArray, dim: number, start: number, end: number | undefined, step = 1): NdArray {
  const d = normDim(dim, a.shape.length);
  const { start: s, count } = sliceBounds(a.shape[d]!, start, end, step);
  const outShape = a.shape.map((x, i) => (i === d ? count : x));
  return gather(a, outShape, (o) => o.map((v, i) => (i === d ? s + v * step : v)));
}

/** Size-1 dims (and new leading dims) repeat. */
export function refExpand(a: NdArray, shape: readonly number[]): NdArray {
  const lead = shape.length - a.shape.length;
  return gather(a, shape, (o) => a.shape.map((d, i) => (d === 1 ? 0 : o[lead + i]!)));
}
