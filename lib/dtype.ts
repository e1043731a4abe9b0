/** Element types, their native codes and the typed arrays that `data()` returns for each. */

export type DType = 'float32' | 'bfloat16' | 'float16' | 'int32' | 'uint8' | 'int8' | 'float64';
/** float64 is for checking (gradcheck, references); models train in float32 or bfloat16. */
export type FloatDType = 'float32' | 'bfloat16' | 'float16' | 'float64';
export type Device = 'cpu' | 'cuda';

/** What `data()` resolves to: bfloat16 and float16 are widened to Float32Array. */
export interface DataTypeMap {
  float32: Float32Array;
  bfloat16: Float32Array;
  float16: Float32Array;
  int32: Int32Array;
  uint8: Uint8Array;
  int8: Int8Array;
  float64: Float64Array;
}

// Mirrors lmf::DType in native/core/dtype.h (the order is the code).
const DTYPES: readonly DType[] = ['float32', 'bfloat16', 'float16', 'int32', 'uint8', 'int8', 'float64'];
const DEVICES: readonly Device[] = ['cpu', 'cuda'];
const SIZES: Record<DType, number> = { float32: 4, bfloat16: 2, float16: 2, int32: 4, uint8: 1, int8: 1, float64: 8 };

export function isDType(x: unknown): x is DType {
  return typeof x === 'string' && (DTYPES as readonly string[]).includes(x);
}

export function isFloatDType(d: DType): d is FloatDType {
  return d === 'float32' || d === 'bfloat16' || d === 'float16' || d === 'float64';
}

export function dtypeCode(d: DType): number {
  return DTYPES.indexOf(d);
}

export function dtypeFromCode(code: number): DType {
  const d = DTYPES[code];
  if (d === undefined) throw new Error(`unknown dtype code ${code}`);
  return d;
}

export function dtypeSize(d: DType): number {
  return SIZES[d];
}

export function isDevice(x: unknown): x is Device {
  return typeof x === 'string' && (DEVICES as readonly string[]).includes(x);
}

export function deviceCode(d: Device): number {
  return DEVICES.indexOf(d);
}

export function deviceFromCode(code: number): Device {
  const d = DEVICES[code];
  if (d === undefined) throw new Error(`unknown device code ${code}`);
  return d;
}

export const ALL_DTYPES = DTYPES;
