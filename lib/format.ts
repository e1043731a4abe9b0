/** Text form of a tensor: a header line and nested rows, long dimensions elided in the middle. */
import type { DType } from './dtype.js';

const EDGE = 3; // elements shown at each end of a dimension longer than 2 * EDGE

function formatNumber(v: number, integer: boolean): string {
  if (integer) return String(v);
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-4 || a >= 1e6) ? v.toExponential(4) : v.toFixed(4);
}

export function formatTensor(shape: readonly number[], dtype: DType, device: string, values: ArrayLike<number>): string {
  const integer = dtype === 'int32' || dtype === 'uint8' || dtype === 'int8';
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const body = (dim: number, off: number, indent: string): string => {
    if (dim === shape.length) return formatNumber(values[off]!, integer);
    const n = shape[dim]!;
    const idx =
      n > 2 * EDGE ? [...Array(EDGE).keys(), -1, ...Array.from({ length: EDGE }, (_, i) => n - EDGE + i)] : [...Array(n).keys()];
    const parts = idx.map((i) => (i < 0 ? '...' : body(dim + 1, off + i * strides[dim]!, indent + ' ')));
    const sep = dim === shape.length - 1 ? ', ' : `,\n${indent} `;
    return `[${parts.join(sep)}]`;
  };
  return `Tensor(${dtype}, [${shape.join(', ')}], ${device})\n${body(0, 0, '')}`;
}
