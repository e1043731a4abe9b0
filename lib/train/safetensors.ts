/**
 * The safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of JSON
 * header, then the tensor bytes. The header maps each tensor name to { dtype, shape, data_offsets:
 * [begin, end] } (byte offsets into the data after the header), plus an optional `__metadata__` object
 * of string values. Tensors are little-endian and row-major; the data is covered without gaps.
 */
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';

import type { DType } from '../dtype.js';
import { ArgumentTypeError, DTypeError, fromFsError, ValueError } from '../errors.js';
import { tensor } from '../ops/creation.js';
import { checkObject, checkString, checkTensor, describe } from '../ops/util.js';
import { Tensor } from '../tensor.js';
import { decodeHalf } from '../half.js';

export type SafeDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL' | 'U16' | 'U32' | 'U64' | 'F8_E4M3' | 'F8_E5M2';

const BYTES: Record<SafeDType, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1, U16: 2, U32: 4, U64: 8, F8_E4M3: 1, F8_E5M2: 1,
};

/** One tensor as stored: its dtype, shape and raw little-endian bytes. */
export interface SafeTensor {
  dtype: SafeDType;
  shape: number[];
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  metadata: Record<string, string>;
  tensors: Map<string, SafeTensor>;
}

// A header larger than this is refused before it is parsed (the reference implementation's limit).
const MAX_HEADER = 100_000_000;

// Own keys only: 'constructor' or 'toString' is no dtype.
function isSafeDType(d: unknown): d is SafeDType {
  return typeof d === 'string' && Object.hasOwn(BYTES, d);
}

function isShape(s: unknown): s is number[] {
  return Array.isArray(s) && s.every((d) => Number.isInteger(d) && d >= 0);
}

/** Throws unless `t` is a SafeTensor: a known dtype, a shape of non-negative integers, and exactly the bytes they need. */
function checkSafeTensor(op: string, name: string, t: unknown): asserts t is SafeTensor {
  const s = checkObject(op, `tensor '${name}'`, t);
  if (!isSafeDType(s.dtype)) throw new DTypeError(op, `tensor '${name}' has unknown dtype ${JSON.stringify(s.dtype)}`);
  if (!isShape(s.shape)) throw new ValueError(op, `tensor '${name}' has a bad shape ${JSON.stringify(s.shape)}`);
  if (!(s.bytes instanceof Uint8Array)) throw new ArgumentTypeError(op, `tensor '${name}': bytes must be a Uint8Array, got ${describe(s.bytes)}`);
  const want = s.shape.reduce((a, b) => a * b, 1) * BYTES[s.dtype];
  if (want !== s.bytes.length) throw new ValueError(op, `tensor '${name}': shape [${s.shape.join(', ')}] of ${s.dtype} needs ${want} bytes, got ${s.bytes.length}`);
}

/** Serialises tensors (in the given order) and string metadata to safetensors bytes. */
export function encodeSafetensors(tensors: Map<string, SafeTensor> | Record<string, SafeTensor>, metadata: Record<string, string> = {}): Uint8Array {
  return encode('encodeSafetensors', tensors, metadata);
}

function encode(op: string, tensors: Map<string, SafeTensor> | Record<string, SafeTensor>, metadata: Record<string, string>): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors] : (Object.entries(checkObject(op, 'tensors', tensors)) as [string, SafeTensor][]);
  const header: Record<string, unknown> = {};
  checkObject(op, 'metadata', metadata);
  if (Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw new ValueError(op, `metadata '${k}' must be a string, got ${typeof v}`);
    header.__metadata__ = metadata;
  }
  let off = 0;
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new ValueError(op, "'__metadata__' is reserved and cannot name a tensor");
    checkSafeTensor(op, name, t);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.bytes.length] };
    off += t.bytes.length;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data starts 8-byte aligned (what the reference writer does).
  const headLen = Buffer.byteLength(json);
  json += ' '.repeat((8 - (headLen % 8)) % 8);
  const head = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + head.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let o = 8 + head.length;
  for (const [, t] of entries) {
    out.set(t.bytes, o);
    o += t.bytes.length;
  }
  return out;
}

/** Parses safetensors bytes, checking the header thoroughly; `source` names the file in errors. */
export function decodeSafetensors(buf: Uint8Array, source = 'safetensors'): SafetensorsFile {
  return decode('decodeSafetensors', buf, source);
}

function decode(op: string, buf: Uint8Array, source: string): SafetensorsFile {
  if (!(buf instanceof Uint8Array)) throw new ArgumentTypeError(op, `bytes must be a Uint8Array, got ${describe(buf)}`);
  const bad = (why: string): never => {
    throw new ValueError(op, `${source}: ${why}`);
  };
  if (buf.length < 8) bad(`file is ${buf.length} bytes, shorter than the 8-byte header length`);
  const n64 = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER)) bad(`header length ${n64} is over the ${MAX_HEADER}-byte limit`);
  const n = Number(n64);
  if (8 + n > buf.length) bad(`header length ${n} runs past the end of the file (${buf.length} bytes)`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + n)));
  } catch (e) {
    bad(`header is not valid UTF-8 JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) bad('header must be a JSON object');
  const dataLen = buf.length - 8 - n;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, SafeTensor>();
  const spans: [number, number, string][] = [];
  for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) bad('__metadata__ must be an object of strings');
      for (const [k, s] of Object.entries(v as Record<string, unknown>)) {
        if (typeof s !== 'string') bad(`__metadata__.${k} must be a string, got ${typeof s}`);
        metadata[k] = s as string;
      }
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) bad(`entry '${name}' must be an object`);
    if (!isSafeDType(e.dtype)) bad(`tensor '${name}' has unknown dtype ${JSON.stringify(e.dtype)}`);
    if (!isShape(e.shape)) bad(`tensor '${name}' has a bad shape ${JSON.stringify(e.shape)}`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((x) => Number.isInteger(x) && x >= 0) || offs[0] > offs[1])
      bad(`tensor '${name}' has bad data_offsets ${JSON.stringify(offs)}`);
    const [b, en] = offs as [number, number];
    if (en > dataLen) bad(`tensor '${name}' data_offsets [${b}, ${en}] run past the data (${dataLen} bytes)`);
    const dtype = e.dtype as SafeDType;
    const shape = e.shape as number[];
    const want = shape.reduce((a, d) => a * d, 1) * BYTES[dtype];
    if (en - b !== want) bad(`tensor '${name}': ${dtype} [${shape.join(', ')}] needs ${want} bytes, data_offsets give ${en - b}`);
    spans.push([b, en, name]);
    tensors.set(name, { dtype, shape, bytes: buf.subarray(8 + n + b, 8 + n + en) });
  }
  // The format requires the tensors to tile the data exactly: no overlaps, no holes.
  spans.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let at = 0;
  for (const [b, en, name] of spans) {
    if (b !== at) bad(b < at ? `tensor '${name}' overlaps the previous tensor's bytes` : `a gap of ${b - at} bytes lies before tensor '${name}'`);
    at = en;
  }
  if (at !== dataLen) bad(`${dataLen - at} bytes after the last tensor belong to no tensor`);
  return { metadata, tensors };
}

/** Reads a .safetensors file. */
export function readSafetensors(path: string): SafetensorsFile {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch {
    throw new ValueError('readSafetensors', `cannot read '${path}'`);
  }
  return decode('readSafetensors', buf, path);
}

/** Writes a .safetensors file to `path` and fsyncs it (the caller renames it into place). */
export function writeSafetensorsFile(path: string, tensors: Map<string, SafeTensor> | Record<string, SafeTensor>, metadata: Record<string, string> = {}): void {
  const op = 'writeSafetensorsFile';
  checkString(op, 'path', path);
  const bytes = encode(op, tensors, metadata);
  try {
    const fd = openSync(path, 'w');
    try {
      let o = 0;
      while (o < bytes.length) o += writeSync(fd, bytes, o, bytes.length - o);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw fromFsError(op, 'write', path, e);
  }
}

function asBytes(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

// The bits of a float16 value. dataSync widened the tensor's float16 values exactly, so no rounding is needed.
function f16Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === Infinity) return sign | 0x7c00;
  if (a === 0) return sign;
  if (a < 2 ** -14) return sign | Math.round(a / 2 ** -24);
  let e = Math.floor(Math.log2(a));
  if (a / 2 ** e >= 2) e++;
  else if (a / 2 ** e < 1) e--;
  return sign | ((e + 15) << 10) | Math.round((a / 2 ** e - 1) * 1024);
}

const TO_SAFE: Partial<Record<DType, SafeDType>> = { float64: 'F64', float32: 'F32', bfloat16: 'BF16', float16: 'F16', int32: 'I32', uint8: 'U8', int8: 'I8' };

/** A tensor's values as a SafeTensor (copied to the host). */
export function toSafeTensor(t: Tensor): SafeTensor {
  checkTensor('toSafeTensor', 't', t);
  const dtype = TO_SAFE[t.dtype];
  if (!dtype) throw new DTypeError('toSafeTensor', `dtype ${t.dtype} has no safetensors equivalent`);
  const data = t.dataSync();
  if (t.dtype === 'bfloat16') {
    // dataSync widens bf16 to f32 exactly, so the top 16 bits of each f32 are the bf16 bits.
    const u32 = new Uint32Array((data as Float32Array).buffer, (data as Float32Array).byteOffset, data.length);
    const bits = new Uint16Array(data.length);
    for (let i = 0; i < bits.length; i++) bits[i] = u32[i]! >>> 16;
    return { dtype, shape: [...t.shape], bytes: asBytes(bits) };
  }
  if (t.dtype === 'float16') {
    const bits = new Uint16Array(data.length);
    for (let i = 0; i < bits.length; i++) bits[i] = f16Bits(data[i]!);
    return { dtype, shape: [...t.shape], bytes: asBytes(bits) };
  }
  return { dtype, shape: [...t.shape], bytes: new Uint8Array(asBytes(data)) };
}

/** A SafeTensor as an lmforge tensor on the CPU (F32, F64, BF16, F16, I32, U8, I8). */
export function fromSafeTensor(s: SafeTensor, name = 'tensor'): Tensor {
  const op = 'fromSafeTensor';
  checkSafeTensor(op, name, s);
  // Copy into a fresh, aligned buffer: the file's bytes need not be aligned to the element size.
  const raw = new Uint8Array(s.bytes).buffer;
  switch (s.dtype) {
    case 'F32':
      return tensor(new Float32Array(raw), s.shape, 'float32');
    case 'F64':
      return tensor(new Float64Array(raw), s.shape, 'float64');
    case 'BF16':
      return tensor(decodeHalf(new Uint16Array(raw), 'bfloat16'), s.shape, 'bfloat16');
    case 'F16':
      return tensor(decodeHalf(new Uint16Array(raw), 'float16'), s.shape, 'float16');
    case 'I32':
      return tensor(new Int32Array(raw), s.shape, 'int32');
    case 'U8':
      return tensor(new Uint8Array(raw), s.shape, 'uint8');
    case 'I8':
      return tensor(new Int8Array(raw), s.shape, 'int8');
    default:
      throw new DTypeError(op, `'${name}' is ${s.dtype}, which lmforge tensors cannot hold (supported: F32, F64, BF16, F16, I32, U8, I8)`);
  }
}
