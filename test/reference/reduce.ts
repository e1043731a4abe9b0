/** Float64 references for reductions over any set of dimensions, with keepdim. */
import { indexOf, nd, normDim, numel, offsetOf, stridesOf, type NdArray } from './ndarray.js';

export type ReduceName = 'sum' | 'mean' | 'max' | 'min' | 'argmax' | 'argmin';

/**
 * Reduces `a` over `dims` (every dimension when undefined). max/min: NaN wins. argmax/argmin: the
 * first position of the extreme (of the first NaN when there is one), counted in row-major order over
 * the reduced dimensions.
 */
export function refReduce(op: ReduceName, a: NdArray, dims?: number[], keepdim = false): NdArray {
  const nd0 = a.shape.length;
  const red = new Array<boolean>(nd0).fill(dims === undefined);
  for (const d of dims ?? []) {
    const k = normDim(d, nd0);
    if (red[k]) throw new Error(`dim ${d} repeated`);
    red[k] = true;
  }
  const outShape: number[] = [];
  const keptShape: number[] = [];
  const redShape: number[] = [];
  a.shape.forEach((d, i) => {
    if (!red[i]) {
      outShape.push(d);
      keptShape.push(d);
    } else {
      redShape.push(d);
      if (keepdim) outShape.push(1);
    }
  });
  const nOut = numel(keptShape), nRed = numel(redShape);
  const out = nd(outShape);
  const sa = stridesOf(a.shape);
  for (let o = 0; o < nOut; o++) {
    const kIdx = indexOf(o, keptShape);
    let acc = op === 'sum' || op === 'mean' ? 0 : NaN;
    let arg = 0;
    let started = false;
    for (let r = 0; r < nRed; r++) {
      const rIdx = indexOf(r, redShape);
      let ki = 0, ri = 0;
      const full = a.shape.map((_, i) => (red[i] ? rIdx[ri++]! : kIdx[ki++]!));
      const v = a.data[offsetOf(full, sa)]!;
      if (op === 'sum' || op === 'mean') {
        acc += v;
        continue;
      }
      if (!started) {
        acc = v;
        arg = r;
        started = true;
        continue;
      }
      if (Number.isNaN(acc)) continue; // the first NaN wins
      const better = Number.isNaN(v) || (op === 'max' || op === 'argmax' ? v > acc : v < acc);
      if (better) {
        acc = v;
        arg = r;
      }
    }
    if (op === 'mean') acc /= nRed;
    out.data[o] = op === 'argmax' || op === 'argmin' ? arg : acc;
  }
  return out;
}
