/**
 * A tiny float64 n-d array for the references: a shape, row-major Float64Array data, and the index
 * arithmetic (strides, index <-> offset, NumPy broadcasting). Independent of lmforge.
 */

export interface NdArray {
  shape: number[];
  data: Float64Array;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major (C-order) strides in elements. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export function nd(shape: readonly number[], data?: ArrayLike<number>): NdArray {
  const n = numel(shape);
  if (data !== undefined && data.length !== n) throw new Error(`nd: ${data.length} values for shape [${shape.join(', ')}]`);
  return { shape: [...shape], data: data === undefined ? new Float64Array(n) : Float64Array.from(data) };
}

/** Multi-index -> flat offset with the given strides. */
export function offsetOf(index: readonly number[], strides: readonly number[]): number {
  let o = 0;
  for (let i = 0; i < index.length; i++) o += index[i]! * strides[i]!;
  return o;
}

/** Flat row-major offset -> multi-index. */
export function indexOf(offset: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i]!;
    idx[i] = offset % d;
    offset = Math.floor(offset / d);
  }
  return idx;
}

/** NumPy broadcasting of two shapes; null when they do not broadcast. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] | null {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[i - (n - a.length)] ?? 1;
    const db = b[i - (n - b.length)] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return null;
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** The index into an operand of shape `shape` that broadcasting maps the output index `outIndex` to. */
export function broadcastIndex(outIndex: readonly number[], shape: readonly number[]): number[] {
  const lead = outIndex.length - shape.length;
  return shape.map((d, i) => (d === 1 ? 0 : outIndex[lead + i]!));
}

/** Reads a[idx] (idx in a's own dimensions). */
export function at(a: NdArray, idx: readonly number[]): number {
  return a.data[offsetOf(idx, stridesOf(a.shape))]!;
}

export function map1(a: NdArray, f: (x: number) => number): NdArray {
  const out = nd(a.shape);
  for (let i = 0; i < a.data.length; i++) out.data[i] = f(a.data[i]!);
  return out;
}

/** f applied elementwise with broadcasting. */
export function map2(a: NdArray, b: NdArray, f: (x: number, y: number) => number): NdArray {
  const shape = broadcastShapes(a.shape, b.shape);
  if (shape === null) throw new Error(`map2: [${a.shape.join(', ')}] and [${b.shape.join(', ')}] do not broadcast`);
  const out = nd(shape);
  const sa = stridesOf(a.shape), sb = stridesOf(b.shape);
  for (let i = 0; i < out.data.length; i++) {
    const idx = indexOf(i, shape);
    out.data[i] = f(a.data[offsetOf(broadcastIndex(idx, a.shape), sa)]!, b.data[offsetOf(broadcastIndex(idx, b.shape), sb)]!);
  }
  return out;
}

/** A new array of shape outShape whose element at idx is a[inIndex(idx)]: every view is such a map. */
export function gather(a: NdArray, outShape: readonly number[], inIndex: (outIdx: number[]) => number[]): NdArray {
  const out = nd(outShape);
  const sa = stridesOf(a.shape);
  for (let i = 0; i < out.data.length; i++) {
    const src = inIndex(indexOf(i, outShape));
    src.forEach((v, d) => {
      if (!Number.isInteger(v) || v < 0 || v >= a.shape[d]!) throw new Error(`gather: index ${v} out of range in dim ${d}`);
    });
    out.data[i] = a.data[offsetOf(src, sa)]!;
  }
  return out;
}

/** Normalises a possibly negative dimension; throws when out of range. */
export function normDim(d: number, ndim: number): number {
  if (d < -ndim || d >= ndim) throw new Error(`dim ${d} out of range for ${ndim} dims`);
  return d < 0 ? d + ndim : d;
}
