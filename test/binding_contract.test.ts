// The binding contract, read from the sources so that a new op cannot be added in one place only:
// - the family × layer table of docs/ARCHITECTURE.md names files that exist and every export of
//   native/core/op_list.h, each defined in its row's binding file;
// - the NativeAddon type of lib/native.ts and the loaded addon have exactly the op list's keys;
// - every op is called by some test through a public wrapper, and every differentiable op has a backward
//   rule and a gradcheck. The mappings below are grep-based: a failure names the op and what is missing.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { fmaPeak, memoryBandwidth } from '../lib/bench/machine.js';
import { tensor, ValueError } from '../lib/index.js';
import { native } from '../lib/native.js';
import { Tensor } from '../lib/tensor.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const read = (p: string): string => readFileSync(join(root, p), 'utf8');
const thisFile = relative(root, fileURLToPath(import.meta.url));

function files(dir: string, keep: (f: string) => boolean): string[] {
  return readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f).split('\\').join('/'))
    .filter(keep)
    .sort();
}

/** The X(name) entries of LMF_OP_LIST. */
function opList(): string[] {
  return [...read('native/core/op_list.h').matchAll(/X\((\w+)\)/g)].map((m) => m[1]!);
}

interface FamilyRow {
  family: string;
  kernels: string[];
  ops: string[];
  binding: string[];
  lib: string[];
  exports: string[];
}

const COLUMNS = ['family', 'kernels', 'ops', 'binding', 'lib', 'exports'] as const;

/** The rows of the table whose header is `| family | kernels | ops | binding | lib | exports |`. */
function familyTable(): FamilyRow[] {
  const lines = read('docs/ARCHITECTURE.md').split('\n');
  const start = lines.findIndex((l) => /^\|\s*family\s*\|\s*kernels\s*\|\s*ops\s*\|\s*binding\s*\|\s*lib\s*\|\s*exports\s*\|$/.test(l.trim()));
  if (start < 0) throw new Error('docs/ARCHITECTURE.md has no family × layer table');
  const rows: FamilyRow[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (cells.length !== COLUMNS.length) throw new Error(`table row with ${cells.length} cells: ${line}`);
    const ticks = (c: string): string[] => [...c.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    rows.push({ family: cells[0]!, kernels: ticks(cells[1]!), ops: ticks(cells[2]!), binding: ticks(cells[3]!), lib: ticks(cells[4]!), exports: ticks(cells[5]!) });
  }
  return rows;
}

/** A path, or a prefix when it ends with `*`. */
function pathExists(p: string): boolean {
  if (!p.endsWith('*')) return existsSync(join(root, p));
  const dir = dirname(p);
  const prefix = p.slice(dir.length + 1, -1);
  return existsSync(join(root, dir)) && readdirSync(join(root, dir)).some((f) => f.startsWith(prefix));
}

const callsNative = (src: string, op: string): boolean => new RegExp(`native\\.${op}\\(`).test(src);

describe('the family × layer table of docs/ARCHITECTURE.md', () => {
  const rows = familyTable();
  const ops = opList();

  it('is there and lists one row per family', () => {
    expect(rows.length).toBeGreaterThan(10);
    expect(new Set(rows.map((r) => r.family)).size).toBe(rows.length);
  });

  it('names only files that exist', () => {
    const missing = rows.flatMap((r) => [...r.kernels, ...r.ops, ...r.binding, ...r.lib].filter((p) => !pathExists(p)).map((p) => `${r.family}: ${p}`));
    expect(missing).toEqual([]);
  });

  it('lists every export of native/core/op_list.h in exactly one row, and nothing else', () => {
    const listed = rows.flatMap((r) => r.exports);
    expect([...listed].sort()).toEqual([...ops].sort());
  });

  it("defines each export in its row's binding file", () => {
    const wrong = rows.flatMap((r) => {
      const src = r.binding.map(read).join('\n');
      return r.exports.filter((op) => !new RegExp(`bind_${op}\\(|LMF_BIND\\(${op}\\)`).test(src)).map((op) => `${r.family}: ${op}`);
    });
    expect(wrong).toEqual([]);
  });

  // quantize8/dequantize8 have no lib caller: the 8-bit state codec is reached through adam8bitStep; these
  // two entry points exist for checking the codec from JS (tested below, against quant8Map).
  const NO_LIB_CALLER = new Set(['quantize8', 'dequantize8']);

  it("has each export called from its row's lib files, and each lib file call one of them", () => {
    const wrong: string[] = [];
    for (const r of rows) {
      const srcs = r.lib.map((p) => [p, read(p)] as const);
      for (const op of r.exports)
        if (!NO_LIB_CALLER.has(op) && !srcs.some(([, s]) => callsNative(s, op))) wrong.push(`${r.family}: no lib file calls native.${op}`);
      for (const [p, s] of srcs) if (!r.exports.some((op) => callsNative(s, op))) wrong.push(`${r.family}: ${p} calls none of the row's exports`);
    }
    expect(wrong).toEqual([]);
  });

  it('covers every file of native/ops and native/binding but the shared ones', () => {
    const shared = new Set([
      'native/binding/addon.cpp', // the module entry and register_ops
      'native/binding/tensor_wrap.cpp', // the handle class
    ]);
    const listed = new Set(rows.flatMap((r) => [...r.ops, ...r.binding]));
    const cpp = [...files('native/ops', (f) => f.endsWith('.cpp')), ...files('native/binding', (f) => f.endsWith('.cpp'))];
    expect(cpp.filter((f) => !shared.has(f) && !listed.has(f))).toEqual([]);
    const libShared = new Set(['lib/ops/util.ts', 'lib/ops/broadcast.ts', 'lib/ops/dropout.ts']); // helpers; dropout has no kernel
    const libListed = new Set(rows.flatMap((r) => r.lib));
    expect(files('lib/ops', (f) => f.endsWith('.ts')).filter((f) => !libShared.has(f) && !libListed.has(f))).toEqual([]);
  });

  it('has no header name in two native folders', () => {
    const seen = new Map<string, string[]>();
    for (const dir of ['native/core', 'native/runtime', 'native/kernels', 'native/ops', 'native/binding'])
      for (const f of files(dir, (p) => /\.(h|cuh)$/.test(p))) seen.set(f.split('/').pop()!, [...(seen.get(f.split('/').pop()!) ?? []), f]);
    expect([...seen.values()].filter((v) => v.length > 1)).toEqual([]);
  });
});

describe('lib/native.ts and the op list', () => {
  const ops = [...opList()].sort();

  it('types exactly the op list in NativeAddon', () => {
    const src = read('lib/native.ts');
    const m = /export interface NativeAddon \{\n([\s\S]*?)\n\}/.exec(src);
    expect(m).not.toBeNull();
    const keys = [...m![1]!.matchAll(/^ {2}(\w+)\(/gm)].map((k) => k[1]!);
    expect([...new Set(keys)].sort()).toEqual(ops);
  });

  it('gets exactly the op list from the loaded addon', () => {
    expect(Object.keys(native).sort()).toEqual(ops);
  });
});

// Op -> the public functions (or classes, or methods) that reach it. Each must be defined in a lib file that
// calls native.<op>, and some test other than this one must call one of them.
const WRAPPERS: Record<string, readonly string[]> = {
  full: ['full', 'zeros', 'ones'], arange: ['arange'], randUniform: ['rand'], randNormal: ['randn'], fromHost: ['tensor'],
  reshape: ['reshape'], permute: ['permute'], transpose: ['transpose'], slice: ['slice'], expand: ['expand'], contiguous: ['contiguous'],
  astype: ['astype'], to: ['to'], copyInto: ['copyInto'],
  unary: ['exp', 'neg', 'sqrt', 'tanh'], binary: ['add', 'mul', 'sub', 'div'], binaryScalar: ['add', 'mul', 'pow'], where: ['where'],
  reduce: ['sum', 'mean', 'max'], matmul: ['matmul', 'linear'], matmulKernelName: ['matmulKernel'],
  softmax: ['softmax', 'logSoftmax'], crossEntropy: ['crossEntropy'], crossEntropyBackward: ['crossEntropy'],
  embedding: ['embedding'], embeddingBackward: ['embedding'],
  activation: ['activation', 'gatedActivation', 'fusedActivation'], activationBackward: ['activation', 'gatedActivation', 'fusedActivation'],
  layerNorm: ['layerNorm', 'fusedLayerNorm'], layerNormBackward: ['layerNorm', 'fusedLayerNorm'],
  rmsNorm: ['rmsNorm', 'fusedRmsNorm'], rmsNormBackward: ['rmsNorm', 'fusedRmsNorm'], rope: ['rope', 'fusedRope'],
  attentionForward: ['attention', 'fusedAttention'], attentionBackward: ['attention', 'fusedAttention'],
  sgdStep: ['SGD'], adamStep: ['Adam', 'AdamW'], adam8bitStep: ['AdamW8bit', 'Adam8bit'], lionStep: ['Lion'], sophiaStep: ['SophiaG'],
  clipGradNorm: ['clipGradNorm'], hessianEma: ['updateHessian'], quant8Map: ['quant8Map'],
  bpeTrain: ['trainBpe'], unigramEStep: ['trainUnigram'], unigramAlternatives: ['trainUnigram'], unigramSubstrings: ['trainUnigram'],
  numThreads: ['numThreads'], setNumThreads: ['setNumThreads'], memoryStats: ['memory'], resetPeakMemory: ['resetPeakMemory'],
  emptyCache: ['emptyCache'], setCacheLimit: ['setCacheLimit'], cpuFeatures: ['cpuInfo'], setCpuTier: ['setCpuTier'],
  cudaAvailable: ['cudaAvailable'], buildInfo: ['versions'],
  commInit: ['initDistributed'], commAllReduce: ['allReduce', 'allReduceAsync'], commReduceScatter: ['reduceScatter'], commAllGather: ['allGather'],
  commBroadcast: ['broadcast'], commBarrier: ['barrier'], commTest: ['test'], commWait: ['wait'], commFinalize: ['finalize'],
};

// Ops without a public wrapper, with the reason and where they are tested.
const DIRECT: Record<string, string> = {
  quantize8: 'the 8-bit state codec: round trip tested in this file',
  dequantize8: 'the 8-bit state codec: round trip tested in this file',
  fmaPeak: 'a bench probe (lib/bench/machine.ts fmaPeak): tested in this file, other tests would spend seconds measuring',
  memBandwidth: 'a bench probe (lib/bench/machine.ts memoryBandwidth): tested in this file',
};

// Differentiable op -> the native op of its backward rule (null: composed from other ops on the tape) and
// the public functions a gradcheck runs it through.
const DIFFERENTIABLE: Record<string, { backward: string | null; gradcheck: readonly string[] }> = {
  reshape: { backward: null, gradcheck: ['reshape'] }, permute: { backward: null, gradcheck: ['permute'] },
  transpose: { backward: null, gradcheck: ['transpose'] }, slice: { backward: null, gradcheck: ['slice'] },
  expand: { backward: null, gradcheck: ['expand'] }, contiguous: { backward: null, gradcheck: ['contiguous'] },
  astype: { backward: null, gradcheck: ['astype'] },
  unary: { backward: null, gradcheck: ['exp', 'tanh'] }, binary: { backward: null, gradcheck: ['add', 'mul'] },
  binaryScalar: { backward: null, gradcheck: ['add', 'mul'] }, where: { backward: null, gradcheck: ['where'] },
  reduce: { backward: null, gradcheck: ['sum', 'mean', 'max'] }, matmul: { backward: null, gradcheck: ['matmul'] },
  softmax: { backward: null, gradcheck: ['softmax', 'logSoftmax'] },
  crossEntropy: { backward: 'crossEntropyBackward', gradcheck: ['crossEntropy'] },
  embedding: { backward: 'embeddingBackward', gradcheck: ['embedding'] },
  activation: { backward: 'activationBackward', gradcheck: ['fusedActivation', 'activation'] },
  layerNorm: { backward: 'layerNormBackward', gradcheck: ['fusedLayerNorm', 'layerNorm'] },
  rmsNorm: { backward: 'rmsNormBackward', gradcheck: ['fusedRmsNorm', 'rmsNorm'] },
  rope: { backward: 'rope', gradcheck: ['fusedRope', 'rope'] },
  attentionForward: { backward: 'attentionBackward', gradcheck: ['attention', 'fusedAttention'] },
};

describe('every op has a test', () => {
  const ops = opList();
  const libFiles = files('lib', (f) => f.endsWith('.ts')).map((p) => [p, read(p)] as const);
  const testSrcs = files('test', (f) => f.endsWith('.ts') && f !== thisFile).map((p) => read(p));
  const called = (name: string, src: string): boolean => new RegExp(`(^|[^\\w$])${name}\\(`, 'm').test(src);
  const defines = (name: string, src: string): boolean =>
    new RegExp(`(function|class) ${name}\\b|^ {2}${name}\\(|^export const ${name}\\b`, 'm').test(src);

  it('maps every op, and only ops, to wrappers or a reason', () => {
    expect([...Object.keys(WRAPPERS), ...Object.keys(DIRECT)].sort()).toEqual([...ops].sort());
  });

  it('has each wrapper defined in a lib file that calls its op', () => {
    const wrong: string[] = [];
    for (const [op, names] of Object.entries(WRAPPERS)) {
      const callers = libFiles.filter(([, s]) => callsNative(s, op));
      for (const n of names) if (!callers.some(([, s]) => defines(n, s))) wrong.push(`${op}: ${n} is not defined in a lib file that calls native.${op}`);
    }
    expect(wrong).toEqual([]);
  });

  it('has a test calling a wrapper of each op', () => {
    const untested = Object.entries(WRAPPERS).filter(([, names]) => !names.some((n) => testSrcs.some((s) => called(n, s)))).map(([op]) => op);
    expect(untested).toEqual([]);
  });

  it('gives every differentiable op a backward rule and a gradcheck', () => {
    const wrong: string[] = [];
    for (const [op, { backward, gradcheck }] of Object.entries(DIFFERENTIABLE)) {
      const callers = libFiles.filter(([, s]) => callsNative(s, op) && s.includes('attach('));
      if (callers.length === 0) wrong.push(`${op}: no lib file calls native.${op} and records a backward rule (attach)`);
      if (backward !== null && !callers.some(([, s]) => callsNative(s, backward))) wrong.push(`${op}: its backward rule does not call native.${backward}`);
      if (!testSrcs.some((s) => s.includes('gradcheck(') && gradcheck.some((n) => called(n, s)))) wrong.push(`${op}: no test runs gradcheck through ${gradcheck.join(' or ')}`);
    }
    expect(wrong).toEqual([]);
  });
});

describe('quantize8 and dequantize8 (no public wrapper)', () => {
  it('round-trip a float32 tensor within half a code step per block, on the codes of quant8Map', () => {
    const n = 600; // three blocks of 256, the last one partial
    const x = tensor(Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * (1 + (i >> 8))));
    const [codesH, absmaxH] = native.quantize8(x.handle, true);
    const codes = new Tensor(codesH), absmax = new Tensor(absmaxH);
    expect(codes.dtype).toBe('uint8');
    expect(codes.shape).toEqual([n]);
    expect(absmax.shape).toEqual([3]);
    const y = new Tensor(native.dequantize8(codes.handle, absmax.handle, true));
    const map = new Tensor(native.quant8Map(true)).dataSync() as Float32Array;
    const xs = x.dataSync() as Float32Array, ys = y.dataSync() as Float32Array, cs = codes.dataSync() as Uint8Array, am = absmax.dataSync() as Float32Array;
    for (let i = 0; i < n; i++) {
      const b = Math.floor(i / 256);
      expect(ys[i]).toBeCloseTo(map[cs[i]!]! * am[b]!, 5);
      // The nearest code of the map: the largest gap between neighbouring codes bounds the error.
      expect(Math.abs(ys[i]! - xs[i]!)).toBeLessThanOrEqual(0.06 * am[b]!);
    }
    for (const t of [x, codes, absmax, y]) t.dispose();
  });

  it('refuses a non-float32 input with a DTypeError naming the op', () => {
    const x = tensor([1, 2, 3], undefined, 'float64');
    expect(() => native.quantize8(x.handle, true)).toThrow(/quantize8.*float32/);
    x.dispose();
  });
});

describe('the bench probes (no other test calls them)', () => {
  it('measure a positive rate and refuse a thread count out of range', () => {
    expect(fmaPeak(1, 0.01)).toBeGreaterThan(0);
    expect(memoryBandwidth(1, 0.01)).toBeGreaterThan(0);
    expect(() => fmaPeak(0, 0.01)).toThrow(ValueError);
    expect(() => memoryBandwidth(2000, 0.01)).toThrow(/memBandwidth.*threads must be in \[1, 1024\], got 2000/);
  });
});
