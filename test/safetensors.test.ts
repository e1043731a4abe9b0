import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { AdamW8bit, GPT, randn, tensor, ValueError, DTypeError } from '../lib/index.js';
import { decodeSafetensors, encodeSafetensors, fromSafeTensor, readSafetensors, saveCheckpoint, toSafeTensor } from '../lib/train/index.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'lmf-st-'));

// An independent reader, written from the format's description (not from lmforge's code).
function parse(buf: Buffer): { header: Record<string, any>; data: Buffer } {
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  return { header, data: buf.subarray(8 + n) };
}

describe('safetensors written by lmforge, read by an independent parser', () => {
  it('model weights (F32, BF16) with the config in __metadata__, and optimizer state with U8 codes', () => {
    const model = new GPT({ vocabSize: 50, seqLen: 8, layers: 1, dim: 64, heads: 2, seed: 2 });
    const opt = new AdamW8bit(model.parameters(), { minSize8bit: 1000 });
    const root = join(tmp(), 'ck');
    const dir = saveCheckpoint(root, { model, optimizer: opt, state: { format: 'lmforge-checkpoint', version: 1, step: 0, tokens: 0, elapsed: 0, rng: { seed: 0, offset: 0 }, sampler: { kind: 'random', position: 0, seed: 0 } } });
    const { header, data } = parse(readFileSync(join(dir, 'model.safetensors')));
    expect(JSON.parse(header.__metadata__.config).dim).toBe(64);
    for (const [name, p] of model.namedParameters()) {
      const e = header[name];
      expect(e.dtype).toBe('F32');
      expect(e.shape).toEqual([...p.shape]);
      const [b, en] = e.data_offsets;
      const vals = new Float32Array(new Uint8Array(data.subarray(b, en)).buffer);
      expect(vals).toEqual(p.dataSync());
    }
    // (8 + N) is 8-byte aligned, as the reference writer pads it.
    expect(Number(readFileSync(join(dir, 'model.safetensors')).readBigUInt64LE(0)) % 8).toBe(0);
    const o = parse(readFileSync(join(dir, 'optimizer.safetensors')));
    expect(o.header.__metadata__.optimizer).toBe('AdamW8bit');
    const dtypes = new Set(Object.entries(o.header).filter(([k]) => k !== '__metadata__').map(([, v]) => v.dtype));
    expect(dtypes).toEqual(new Set(['U8', 'F32']));
  });

  it('bf16, f16, f64, i32, u8, i8 tensors keep their bits', () => {
    const cases = [
      tensor([1.5, -2.25, 3e-3], [3], 'bfloat16'), tensor([1.5, -2.25, 6.1e-5, 65504], [2, 2], 'float16'), tensor([Math.PI, -1e-300], [2], 'float64'),
      tensor(new Int32Array([-7, 2 ** 30])), tensor(new Uint8Array([0, 255])), tensor(new Int8Array([-128, 127])),
    ];
    const bytes = encodeSafetensors(Object.fromEntries(cases.map((t, i) => [`t${i}`, toSafeTensor(t)])));
    const { header, data } = parse(Buffer.from(bytes));
    expect(header.t0.dtype).toBe('BF16');
    const [b] = header.t0.data_offsets;
    expect(data.readUInt16LE(b)).toBe(0x3fc0); // 1.5 in bfloat16
    expect(header.t1.dtype).toBe('F16');
    expect(data.readUInt16LE(header.t1.data_offsets[0])).toBe(0x3e00); // 1.5 in float16
    const back = decodeSafetensors(bytes);
    cases.forEach((t, i) => {
      const r = fromSafeTensor(back.tensors.get(`t${i}`)!);
      expect(r.dtype).toBe(t.dtype);
      expect(r.dataSync()).toEqual(t.dataSync());
    });
  });
});

describe('a hand-made safetensors file read by lmforge', () => {
  function handMade(header: object, data: Buffer): Buffer {
    const h = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(h.length));
    return Buffer.concat([len, h, data]);
  }

  it('reads F32 and I32 tensors and metadata', () => {
    const data = Buffer.alloc(6 * 4 + 2 * 4);
    [1, 2, 3, 4, 5, 6].forEach((v, i) => data.writeFloatLE(v, i * 4));
    data.writeInt32LE(-5, 24);
    data.writeInt32LE(9, 28);
    const file = join(tmp(), 'h.safetensors');
    writeFileSync(file, handMade({ __metadata__: { note: 'hi' }, w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] }, ids: { dtype: 'I32', shape: [2], data_offsets: [24, 32] } }, data));
    const f = readSafetensors(file);
    expect(f.metadata).toEqual({ note: 'hi' });
    const w = fromSafeTensor(f.tensors.get('w')!);
    expect(w.shape).toEqual([2, 3]);
    expect([...w.dataSync()]).toEqual([1, 2, 3, 4, 5, 6]);
    expect([...fromSafeTensor(f.tensors.get('ids')!).dataSync()]).toEqual([-5, 9]);
  });

  it('bad headers give clear errors', () => {
    const d4 = Buffer.alloc(4);
    const cases: [Buffer, RegExp][] = [
      [Buffer.from([1, 2, 3]), /shorter than the 8-byte header length/],
      [(() => { const b = Buffer.alloc(16); b.writeBigUInt64LE(1000n); return b; })(), /header length 1000 runs past the end of the file/],
      [(() => { const b = Buffer.alloc(16); b.writeBigUInt64LE(2n ** 40n); return b; })(), /over the 100000000-byte limit/],
      [handMade({}, Buffer.alloc(0)).subarray(0, 9), /runs past the end|not valid UTF-8 JSON/],
      [Buffer.concat([Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{x}')]), /not valid UTF-8 JSON/],
      [handMade([1, 2], Buffer.alloc(0)), /header must be a JSON object/],
      [handMade({ w: { dtype: 'F17', shape: [1], data_offsets: [0, 4] } }, d4), /tensor 'w' has unknown dtype "F17"/],
      [handMade({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, d4), /F32 \[2\] needs 8 bytes, data_offsets give 4/],
      [handMade({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 8] } }, d4), /run past the data \(4 bytes\)/],
      [handMade({ w: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, d4), /bad data_offsets/],
      [handMade({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, v: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, d4), /overlaps/],
      [handMade({ w: { dtype: 'U8', shape: [1], data_offsets: [1, 2] } }, Buffer.alloc(2)), /gap of 1 bytes/],
      [handMade({ __metadata__: { a: 1 } }, Buffer.alloc(0)), /__metadata__.a must be a string/],
    ];
    for (const [buf, re] of cases) {
      expect(() => decodeSafetensors(buf, 'f.safetensors')).toThrow(ValueError);
      expect(() => decodeSafetensors(buf, 'f.safetensors')).toThrow(re);
    }
    expect(() => readSafetensors('/nonexistent.safetensors')).toThrow(/cannot read '\/nonexistent.safetensors'/);
    const i64 = decodeSafetensors(handMade({ x: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, Buffer.alloc(8)));
    expect(() => fromSafeTensor(i64.tensors.get('x')!, 'x')).toThrow(DTypeError);
  });

  it('round-trips random float32 weights through encode/decode', () => {
    const t = randn([7, 13], { seed: 4 });
    const f = decodeSafetensors(encodeSafetensors({ t: toSafeTensor(t) }, { k: 'v' }));
    expect(fromSafeTensor(f.tensors.get('t')!).dataSync()).toEqual(t.dataSync());
  });
});
