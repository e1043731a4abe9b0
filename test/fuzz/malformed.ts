/**
 * Malformed-input fuzz cases for the public entry points (lib/index.ts): wrong shapes and dtypes, disposed
 * tensors, NaN, huge sizes, negative dims, arguments of the wrong JS type, option values of the wrong type
 * and unknown options. Case i is drawn from the run's seed alone, so the parent test and the child process
 * that runs the cases (test/fuzz/child.ts) agree on what case i is.
 *
 * A case expects 'throws' (the call is invalid: it must throw an lmforge error class) or 'survives' (the
 * call may be valid, e.g. NaN data, or 'cuda' on a machine that has it: any result or an lmforge error).
 * Huge sizes are always beyond what mmap can reserve (more than 2^48 elements or bytes past the 47-bit
 * address space), so no case can make the machine page in real memory.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as lm from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { Rng } from '../reference/prng.js';
import { show } from './inputs.js';

export type Expect = 'throws' | 'survives';

export interface BadCase {
  entry: string;
  what: string;
  expect: Expect;
  run: () => unknown;
}

/** What a case did: returned, threw an lmforge error (typed), or threw anything else (untyped). */
export interface Outcome {
  result: 'returned' | 'typed' | 'untyped';
  cls?: string;
  message?: string;
}

export function classify(e: unknown): Outcome {
  const cls = (e as { constructor?: { name?: string } })?.constructor?.name ?? typeof e;
  const message = e instanceof Error ? e.message.split('\n')[0]!.slice(0, 300) : String(e);
  return { result: e instanceof lm.LmforgeError ? 'typed' : 'untyped', cls, message };
}

/** Option names no entry point takes (typos of real ones among them). */
export const UNKNOWN_KEYS = ['foo', 'dtpye', 'Dim', 'keepDim', 'biass', 'lR', 'causa1', 'weight_decay', 'seeds', 'x'] as const;

/**
 * A scratch folder for the cases that read or write files: LMF_FUZZ_SCRATCH (the runner's, which it
 * removes even when a child dies), else a temporary folder removed at exit.
 */
let scratch: string | null = null;
function scratchDir(): string {
  if (scratch === null) {
    const given = process.env.LMF_FUZZ_SCRATCH;
    scratch = given ? given : mkdtempSync(join(tmpdir(), 'lmf-fuzz-'));
    const dir = scratch;
    if (given) mkdirSync(dir, { recursive: true });
    else process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'file.txt'), 'not a folder');
    writeFileSync(join(dir, 'garbage.json'), '{"model": {"type": "BPE", "vocab": 3, "merges": "x"}');
    writeFileSync(join(dir, 'notjson.json'), '\u0000\u0001 not json at all');
    writeFileSync(join(dir, 'garbage.safetensors'), Buffer.from([8, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 34, 58, 49, 125, 32]));
  }
  return scratch;
}

/** Random malformed values, tensors and shapes for one case. */
class Kit {
  constructor(readonly r: Rng) {}
  pick<T>(xs: readonly T[]): T {
    return xs[this.r.int(0, xs.length)]!;
  }
  int(lo: number, hi: number): number {
    return this.r.int(lo, hi);
  }
  shape(minNd = 1, maxNd = 3): number[] {
    return Array.from({ length: this.r.int(minNd, maxNd + 1) }, () => this.pick([1, 2, 3, 5, 7]));
  }
  t(shape: number[] = this.shape(), dtype: lm.DType = 'float32'): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const ints = dtype === 'int32' || dtype === 'uint8' || dtype === 'int8';
    return lm.tensor(Array.from({ length: n }, (_, i) => (ints ? i % 7 : Math.sin(i + this.r.next()))), shape, dtype);
  }
  /** A float32 tensor holding NaN, Inf and -Inf among finite values. */
  nan(shape: number[] = this.shape()): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const specials = [NaN, Infinity, -Infinity, 0, -0, 3.4e38, 1e-45];
    return lm.tensor(Array.from({ length: n }, () => (this.r.next() < 0.4 ? this.pick(specials) : this.r.uniform(-2, 2))), shape);
  }
  disposed(shape: number[] = this.shape(), dtype: lm.DType = 'float32'): Tensor {
    const t = this.t(shape, dtype);
    t.dispose();
    return t;
  }
  ints(shape: number[], hi: number): Tensor<'int32'> {
    const n = shape.reduce((a, b) => a * b, 1);
    return lm.tensor(Int32Array.from({ length: n }, () => this.r.int(0, hi)), shape);
  }
  intTensor(): Tensor {
    return this.t(this.shape(), this.pick(['int32', 'uint8', 'int8'] as const));
  }
  /** Anything but a live Tensor. */
  notTensor(): unknown {
    return this.pick([undefined, null, 0, 1.5, NaN, 'x', '', true, {}, [], [1, 2], new Float32Array(3), () => 0, 5n, Symbol('s'), new Map(), { shape: [2], dtype: 'float32' }]);
  }
  /** Not an array of non-negative integers. */
  badShape(): unknown {
    return this.pick([[-1], [2, -3], [NaN], [1.5], ['2'], [Infinity], [null], [[2]], [2n], 'abc', null, 3, {}, new Set([2]), [-0.5, 2], [2, undefined]]);
  }
  /** More elements than any machine holds: numel above 2^48, or bytes beyond a 47-bit address space. */
  hugeShape(): number[] {
    return this.pick([[2 ** 47], [2 ** 31, 2 ** 31], [2 ** 53], [1e300], [2 ** 24, 2 ** 24, 2 ** 10], [2 ** 46, 4], [3, 2 ** 52]]);
  }
  /** Not an integer at all. */
  badInt(): unknown {
    return this.pick([NaN, 1.5, -0.5, '0', '1', null, {}, [], [0], Infinity, -Infinity, 1e300, 5n, true, Symbol('d')]);
  }
  /** An integer dim out of range for ndim dims. */
  badDim(ndim: number): number {
    return this.pick([ndim, ndim + 1, -ndim - 1, 99, -99, 2 ** 31, -(2 ** 31), 2 ** 53]);
  }
  /** Neither a tensor nor a number (for operands where a number is a scalar). */
  notOperand(): unknown {
    return this.pick([undefined, null, 'x', '', true, {}, [], [1, 2], new Float32Array(3), () => 0, 5n, Symbol('s')]);
  }
  // The option values below leave out null and undefined: an option given as either takes its default.
  /** Not a number, or NaN. */
  badNum(): unknown {
    return this.pick([NaN, '1', '', {}, [], [1], true, 5n, Symbol('n')]);
  }
  badBool(): unknown {
    return this.pick(['yes', 'false', 1, 0, {}, [], NaN]);
  }
  badDType(): unknown {
    return this.pick(['float', 'int64', 'Float32', 'float32 ', 'fp32', 'bool', 3, {}, '', 'uint16']);
  }
  badDevice(): unknown {
    return this.pick(['gpu', 'cuda:0', 'CPU', 'tpu', 3, {}, '', 'mps']);
  }
  unknownKey(): string {
    return this.pick(UNKNOWN_KEYS);
  }
  scratch(name: string): string {
    return join(scratchDir(), name);
  }
}

type Variant = () => [what: string, run: () => unknown, expect?: Expect];
type Entry = (k: Kit) => Variant[];

/** A call f(...args) described as name(args). */
function call(name: string, f: (...a: never[]) => unknown, ...args: unknown[]): [string, () => unknown] {
  return [`${name}(${args.map(show).join(', ')})`, () => (f as (...a: unknown[]) => unknown)(...args)];
}

const UNARY = ['neg', 'exp', 'log', 'sqrt', 'rsqrt', 'abs', 'tanh', 'sigmoid', 'relu', 'sin', 'cos', 'square', 'reciprocal', 'erf', 'sign'] as const;
const BINARY = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'gt', 'ge', 'lt', 'le', 'eq', 'ne'] as const;
const REDUCE = ['sum', 'mean', 'max', 'min'] as const;

/** Two shapes that do not broadcast. */
function clash(k: Kit): [number[], number[]] {
  return k.pick([[[2, 3], [3, 2]], [[5], [3]], [[2, 3, 5], [3, 2, 5]], [[7, 2], [2, 7, 3]]] as [number[], number[]][]);
}

function smallModel(k: Kit, extra: Partial<lm.GPTConfig> = {}): lm.GPT {
  return new lm.GPT({ vocabSize: 11, seqLen: 8, layers: 1, dim: 8, heads: 2, seed: k.int(0, 100), ...extra });
}

function trainedParam(k: Kit, shape = [3, 2]): Tensor {
  const p = k.t(shape).setRequiresGrad();
  p.grad = k.t(shape);
  return p;
}

const OPTIMIZERS: [string, new (p: Tensor[], o?: Record<string, unknown>) => lm.Optimizer][] = [
  ['SGD', lm.SGD as never], ['Adam', lm.Adam as never], ['AdamW', lm.AdamW as never], ['Adam8bit', lm.Adam8bit as never],
  ['AdamW8bit', lm.AdamW8bit as never], ['Lion', lm.Lion as never], ['SophiaG', lm.SophiaG as never],
];

// ---- the entry points ----

export const ENTRIES: Record<string, Entry> = {
  // creation
  tensor: (k) => [
    () => call('tensor', lm.tensor, k.pick(['abc', {}, null, Symbol('x'), [1, 'a'], [[1, 2], [3]], [1, [2]], [[1], 2], new DataView(new ArrayBuffer(4)), new BigInt64Array(2), [5n]]) as never),
    () => call('tensor', lm.tensor, [1, 2, 3, 4, 5, 6], k.pick([[4], [2, 2], [7], [3, 3]])),
    () => call('tensor', lm.tensor, [1, 2], k.badShape()),
    () => call('tensor', lm.tensor, [1, 2], [2], k.badDType()),
    () => call('tensor', lm.tensor, [1, 2], [2], 'float32', k.badDevice()),
    () => call('tensor', lm.tensor, k.pick([[1.5], [NaN], [Infinity], [2 ** 31], [-(2 ** 31) - 1]]), [1], 'int32'),
    () => call('tensor', lm.tensor, k.pick([[256], [-1], [1.5], [NaN]]), [1], 'uint8'),
    () => call('tensor', lm.tensor, k.pick([[128], [-129], [1.5], [NaN]]), [1], 'int8'),
    () => call('tensor', lm.tensor, [1, 2], k.hugeShape()),
  ],
  creation: (k) => {
    const f = k.pick([['zeros', lm.zeros], ['ones', lm.ones], ['rand', lm.rand], ['randn', lm.randn]] as const);
    return [
      () => call(f[0], f[1], k.badShape()),
      () => call(f[0], f[1], k.hugeShape()),
      () => call(f[0], f[1], [2, 3], { dtype: k.badDType() }),
      () => call(f[0], f[1], [2, 3], { device: k.badDevice() }),
      () => call(f[0], f[1], [2, 3], { [k.unknownKey()]: 1 }),
      () => call(f[0], f[1], [2, 3], k.pick(['float32', 3, true, [1]])),
      () => call(f[0], f[1], k.pick([undefined, null, 3, '2,3'])),
    ];
  },
  full: (k) => [
    () => call('full', lm.full, [2, 3], k.pick(['1', null, {}, [], undefined, 5n])),
    () => call('full', lm.full, k.badShape(), 1),
    () => call('full', lm.full, k.hugeShape(), 0),
    () => call('full', lm.full, [2], 1, { dtype: k.badDType() }),
    () => [...call('full', lm.full, [2, 3], k.pick([NaN, Infinity, -Infinity, 1e300])), 'survives'],
    () => {
      // values no integer dtype holds, and one just past the chosen dtype's range (300 is an int32)
      const dtype = k.pick(['int32', 'uint8', 'int8'] as const);
      return call('full', lm.full, [2], k.pick([1.5, NaN, dtype === 'int32' ? 2 ** 31 : 300, -1e10]), { dtype });
    },
  ],
  arange: (k) => [
    () => call('arange', lm.arange, k.badNum()),
    () => call('arange', lm.arange, 0, k.badNum()),
    () => call('arange', lm.arange, 0, 10, k.pick([0, -0, NaN, '1', null])),
    () => call('arange', lm.arange, 0, k.pick([2 ** 47, 2 ** 53, Infinity, 1e300])),
    () => call('arange', lm.arange, k.pick([-Infinity, NaN]), 5),
    () => call('arange', lm.arange, 0, 5, 1, { dtype: k.badDType() }),
    () => call('arange', lm.arange, 0, 5, 1, { [k.unknownKey()]: 1 }),
  ],
  rngArgs: (k) => [
    () => call('rand', lm.rand, [2, 3], { seed: k.pick([-1, 1.5, NaN, 2 ** 53, '1', Infinity]) }),
    () => call('randn', lm.randn, [2, 3], { seed: k.pick([-1, 1.5, NaN, 2 ** 53, '1']) }),
    () => call('rand', lm.rand, [2, 3], { low: k.badNum() }),
    () => call('randn', lm.randn, [2, 3], { std: k.badNum() }),
    () => call('rand', lm.rand, [2, 3], { dtype: k.pick(['int32', 'uint8', 'int8']) as never }),
    () => call('randn', lm.randn, [2, 3], { dtype: k.pick(['int32', 'uint8', 'int8']) as never }),
    () => call('manualSeed', lm.manualSeed, k.pick([-1, 1.5, NaN, 2 ** 53, '1', null, Infinity])),
    () => call('setRngState', lm.setRngState, k.pick([null, 'x', 3, {}, { seed: -1, offset: 0 }, { seed: '1', offset: 0 }, { seed: 1 }, { seed: 1, offset: 1.5 }, { seed: NaN, offset: 0 }])),
  ],
  likes: (k) => {
    const f = k.pick([['zerosLike', lm.zerosLike], ['onesLike', lm.onesLike]] as const);
    return [
      () => call(f[0], f[1], k.pick([undefined, null, 3, 'x', {}, [1, 2]]) as never),
      // only the disposed tensor's shape and dtype are read: allowed either way
      () => [...call(f[0], f[1], k.disposed()), 'survives'],
    ];
  },

  // elementwise
  unary: (k) => {
    const op = k.pick(UNARY);
    const f = lm[op] as (t: Tensor) => Tensor;
    return [
      () => call(op, f, k.notTensor()),
      () => call(op, f, k.disposed()),
      () => call(op, f, k.intTensor()),
      () => [...call(op, f, k.nan()), 'survives'],
      () => [`${show(k.disposed())}.${op}()`, () => (k.disposed() as unknown as Record<string, () => unknown>)[op]!()],
    ];
  },
  binary: (k) => {
    const op = k.pick(BINARY);
    const f = lm[op] as (a: unknown, b: unknown) => Tensor;
    return [
      () => {
        const [a, b] = clash(k);
        return call(op, f, k.t(a), k.t(b));
      },
      () => call(op, f, k.t([2, 3]), k.t([2, 3], k.pick(['float64', 'bfloat16', 'float16']))),
      () => call(op, f, k.intTensor(), k.intTensor()),
      () => call(op, f, k.t([2]), k.disposed([2])),
      () => call(op, f, k.disposed([2]), 1),
      () => call(op, f, k.pick([1, 'a', null]), k.pick([2, 'b', undefined])),
      () => call(op, f, k.t([2]), k.notOperand()),
      () => call(op, f, k.notOperand(), k.t([2])),
      () => [...call(op, f, k.t([3]), k.pick([NaN, Infinity, -Infinity])), 'survives'],
      () => [...call(op, f, k.nan([2, 3]), k.nan([3])), 'survives'],
      () => [`Tensor.${op}(${'"x"'})`, () => (k.t([2]) as unknown as Record<string, (o: unknown) => unknown>)[op]!('x')],
    ];
  },
  where: (k) => [
    () => call('where', lm.where, k.notTensor() as never, k.t([2]), k.t([2])),
    () => {
      const [a, b] = clash(k);
      return call('where', lm.where, k.t(a), k.t(a), k.t(b));
    },
    () => call('where', lm.where, k.t([2]), k.t([2]), k.t([2], 'float64')),
    () => call('where', lm.where, k.t([2]), k.disposed([2]), k.t([2])),
  ],

  // reductions
  reduce: (k) => {
    const op = k.pick(REDUCE);
    const f = lm[op] as (t: unknown, d?: unknown, kd?: unknown) => Tensor;
    const t = k.t([2, 3, 5]);
    return [
      () => call(op, f, t, k.badDim(3)),
      () => call(op, f, t, k.pick([NaN, 1.5, '0', {}, Infinity, 5n, true])),
      () => call(op, f, t, k.pick([[0, 0], [1, -2], [0, 99], [0, '1'], [NaN], [0, 1.5], [[0]]])),
      () => call(op, f, k.notTensor()),
      () => call(op, f, k.disposed()),
      () => call(op, f, k.intTensor(), 0),
      () => call(op, f, t, 0, k.badBool()),
      () => (op === 'max' || op === 'min' ? call(op, f, k.t([0, 3]), 0) : call(op, f, t, 5)),
      () => [...call(op, f, k.nan([3, 4]), 1), 'survives'],
    ];
  },
  argReduce: (k) => {
    const op = k.pick(['argmax', 'argmin'] as const);
    const f = lm[op] as (t: unknown, d?: unknown, kd?: unknown) => Tensor;
    return [
      () => call(op, f, k.t([2, 3]), k.badDim(2)),
      () => call(op, f, k.t([2, 3]), k.pick([NaN, 1.5, '0', null])),
      () => call(op, f, k.disposed()),
      () => call(op, f, k.notTensor()),
      () => call(op, f, k.t([0, 3]), k.pick([undefined, 0])),
      () => [...call(op, f, k.nan([3, 4]), 1), 'survives'],
    ];
  },

  // matmul
  matmul: (k) => [
    () => call('matmul', lm.matmul, k.t([2, 3]), k.t([2, 3])),
    () => call('matmul', lm.matmul, k.t([]), k.t([3])),
    () => call('matmul', lm.matmul, k.t([2, 3]), k.t([3, 2], 'float64')),
    () => call('matmul', lm.matmul, k.t([2, 3], 'int32'), k.t([3, 2], 'int32')),
    () => call('matmul', lm.matmul, k.disposed([2, 3]), k.t([3, 2])),
    () => call('matmul', lm.matmul, k.t([2, 3]), k.notTensor() as never),
    () => call('matmul', lm.matmul, k.t([2, 2, 3]), k.t([3, 3, 2])),
    () => call('matmul', lm.matmul, k.t([2, 3]), k.t([3, 2]), { bias: k.t(k.pick([[3], [2, 2], [1, 5]])) }),
    () => call('matmul', lm.matmul, k.t([2, 3]), k.t([3, 2]), { bias: k.t([2], 'float64') }),
    () => call('matmul', lm.matmul, k.t([2, 3]), k.t([3, 2]), { residual: k.t(k.pick([[3, 2], [2], [2, 3]])) }),
    () => call('matmul', lm.matmul, k.t([2, 3]), k.t([3, 2]), { bias: k.pick(['x', 3, {}, [1, 2]]) }),
    () => call('matmul', lm.matmul, k.t([2, 3]), k.t([3, 2]), { [k.unknownKey()]: k.t([2]) }),
    () => call('matmul', lm.matmul, k.t([2, 3]), k.t([3, 2]), k.pick([3, 'bias', true])),
    () => call('matmul', lm.matmul, k.t([2, 3]), k.t([3, 2]), { bias: k.disposed([2]) }),
    () => [...call('matmul', lm.matmul, k.nan([3, 4]), k.nan([4, 5])), 'survives'],
    () => call('bmm', lm.bmm, k.t([2, 3]), k.t([3, 2])),
    () => call('bmm', lm.bmm, k.t([2, 2, 3]), k.t([3, 3, 2])),
    () => call('bmm', lm.bmm, k.notTensor() as never, k.t([1, 3, 2])),
    () => call('linear', lm.linear, k.t([2, 3]), k.t([3])),
    () => call('linear', lm.linear, k.t([2, 3]), k.t([4, 5])),
    () => call('linear', lm.linear, k.t([2, 3]), k.t([4, 3]), k.t([3])),
    () => call('linear', lm.linear, k.t([2, 3]), k.notTensor() as never),
    () => call('linear', lm.linear, k.notTensor() as never, k.t([4, 3])),
  ],

  // softmax and cross-entropy
  softmax: (k) => {
    const op = k.pick(['softmax', 'logSoftmax'] as const);
    const f = lm[op] as (t: unknown, d?: unknown) => Tensor;
    return [
      () => call(op, f, k.t([2, 3]), k.badDim(2)),
      () => call(op, f, k.t([2, 3]), k.badInt()),
      () => call(op, f, k.intTensor()),
      () => call(op, f, k.disposed()),
      () => call(op, f, k.notTensor()),
      () => [...call(op, f, k.nan([3, 4])), 'survives'],
      () => [...call(op, f, k.t([0, 3]), 0), 'survives'],
    ];
  },
  crossEntropy: (k) => {
    const f = lm.crossEntropy as (...a: unknown[]) => Tensor;
    const x = k.t([4, 5]), y = k.ints([4], 5);
    return [
      () => call('crossEntropy', f, x, k.t([4])),
      () => call('crossEntropy', f, x, k.ints(k.pick([[5], [4, 1], [2, 2], []]), 5)),
      () => call('crossEntropy', f, x, lm.tensor(Int32Array.from([0, 1, k.pick([5, 6, -1, -3, 2 ** 31 - 1, -(2 ** 31)]), 2]))),
      () => call('crossEntropy', f, k.t([4, 5], 'int32'), y),
      () => call('crossEntropy', f, k.disposed([4, 5]), y),
      () => call('crossEntropy', f, x, k.disposed([4], 'int32')),
      () => call('crossEntropy', f, k.t([]), k.ints([], 1)),
      () => call('crossEntropy', f, x, y, { reduction: k.pick(['avg', 'MEAN', 3, '']) }),
      () => call('crossEntropy', f, x, y, { zLoss: k.pick([-1, NaN, Infinity, '0.1']) }),
      () => call('crossEntropy', f, x, y, { ignoreIndex: k.pick([NaN, 1.5, '0', 2 ** 53, {}]) }),
      () => call('crossEntropy', f, x, y, { [k.unknownKey()]: 1 }),
      () => call('crossEntropy', f, x, y, k.pick(['mean', 3, true])),
      () => call('crossEntropy', f, k.notTensor(), y),
      () => [...call('crossEntropy', f, k.nan([4, 5]), y), 'survives'],
      () => [...call('crossEntropy', f, k.t([0, 5]), k.ints([0], 5), { reduction: k.pick(['mean', 'sum', 'none']) }), 'survives'],
    ];
  },
  embedding: (k) => {
    const w = k.t([7, 3]);
    return [
      () => call('embedding', lm.embedding, w, k.t([2])),
      () => call('embedding', lm.embedding, w, lm.tensor(Int32Array.of(0, k.pick([7, 8, -1, 2 ** 31 - 1, -(2 ** 31)])))),
      () => call('embedding', lm.embedding, k.t([7]), k.ints([2], 7)),
      () => call('embedding', lm.embedding, k.disposed([7, 3]), k.ints([2], 7)),
      () => call('embedding', lm.embedding, w, k.disposed([2], 'int32')),
      () => call('embedding', lm.embedding, w, k.notTensor() as never),
      () => call('embedding', lm.embedding, k.notTensor() as never, k.ints([2], 7)),
    ];
  },

  // views
  reshape: (k) => {
    const t = k.t([2, 3]);
    return [
      () => call('reshape', lm.reshape, t, k.pick([[5], [2, 2], [-1, -1], [-2, 3], [7, -1], [0, -1], [1.5, 4]])),
      () => call('reshape', lm.reshape, t, k.pick([[2, -3], [NaN], [1.5], ['2'], [Infinity], [null], [[2]], 'abc', null, 3, {}, [6, undefined]])),
      () => call('reshape', lm.reshape, k.disposed(), [-1]),
      () => call('reshape', lm.reshape, k.notTensor() as never, [-1]),
      () => call('reshape', lm.reshape, t, k.hugeShape()),
      () => [`Tensor.reshape(${'"a"'})`, () => (t.reshape as (...a: unknown[]) => unknown).call(t, 'a')],
      () => [`Tensor.view(${'NaN'})`, () => t.view(NaN)],
    ];
  },
  transpose: (k) => [
    () => call('transpose', lm.transpose, k.t([2, 3]), k.badDim(2), 0),
    () => call('transpose', lm.transpose, k.t([2, 3]), 0, k.badInt() as never),
    () => call('transpose', lm.transpose, k.disposed()),
    () => call('transpose', lm.transpose, k.t([3])),
    () => ['Tensor(1-d).T', () => k.t([3]).T],
    () => call('transpose', lm.transpose, k.notTensor() as never),
  ],
  permute: (k) => [
    () => call('permute', lm.permute, k.t([2, 3, 5]), k.pick([[0, 1], [0, 0, 1], [0, 1, 3], [0, 1, -4], [0, 1, 2, 3], [], [0, 1, NaN], [0, 1, 1.5], [0, 1, '2']]) as never),
    () => call('permute', lm.permute, k.t([2, 3]), k.pick([null, 'ab', 3, {}]) as never),
    () => call('permute', lm.permute, k.disposed([2, 3]), [1, 0]),
    () => call('permute', lm.permute, k.notTensor() as never, [0]),
  ],
  slice: (k) => {
    const t = k.t([5, 7]);
    return [
      () => call('slice', lm.slice, t, k.badDim(2), 0, 2),
      () => call('slice', lm.slice, t, 0, 0, 3, k.pick([0, -1, -2, 1.5, NaN, Infinity, '1'])),
      () => call('slice', lm.slice, t, 0, k.badInt() as never, 3),
      () => call('slice', lm.slice, t, 0, 0, k.pick([NaN, 1.5, '3', {}]) as never),
      () => call('slice', lm.slice, k.disposed(), 0, 0, 1),
      () => call('slice', lm.slice, k.t([]), 0, 0, 1),
      () => call('slice', lm.slice, k.notTensor() as never, 0, 0, 1),
      () => [...call('slice', lm.slice, t, 0, k.pick([2 ** 53, -(2 ** 53), 1e300, -1e300]) as number, 3), 'survives'],
    ];
  },
  expand: (k) => [
    () => call('expand', lm.expand, k.t([2, 3]), k.pick([[3], [3, 3], [2, 4], [2, -1], [-1, 2, 3], [2, NaN], [2, 3.5], [0, 3]])),
    () => call('expand', lm.expand, k.t([1, 3]), k.badShape()),
    () => call('expand', lm.expand, k.disposed([1]), [3]),
    () => call('expand', lm.expand, k.notTensor() as never, [3]),
    // a view of more elements than exist is fine; copying it is not
    () => [`expand(Tensor(float32, [1]), ${show(k.hugeShape())}).contiguous()`, () => lm.expand(k.t([1]), k.hugeShape()).contiguous()],
    () => [`add(expand(Tensor(float32, [1]), huge), 1)`, () => lm.add(lm.expand(k.t([1]), k.hugeShape()), 1)],
    () => [`clone(expand(Tensor(float32, [1]), huge))`, () => lm.clone(lm.expand(k.t([1]), k.hugeShape()))],
  ],
  squeeze: (k) => {
    const op = k.pick(['squeeze', 'unsqueeze'] as const);
    const f = lm[op] as (t: unknown, d?: unknown) => Tensor;
    return [
      () => call(op, f, k.t([2, 1, 3]), k.badDim(op === 'squeeze' ? 3 : 4)),
      () => call(op, f, k.t([2, 1, 3]), k.pick([NaN, 1.5, '1', null, {}])),
      () => call(op, f, k.disposed([2, 1])),
      () => call(op, f, k.notTensor(), 0),
    ];
  },
  copies: (k) => {
    const op = k.pick(['contiguous', 'clone'] as const);
    return [
      () => call(op, lm[op] as (t: unknown) => Tensor, k.notTensor()),
      () => call(op, lm[op] as (t: unknown) => Tensor, k.disposed()),
      () => call('astype', lm.astype, k.t([2]), k.pick([k.badDType(), null, undefined]) as never),
      () => call('astype', lm.astype, k.disposed(), 'float64'),
      () => call('astype', lm.astype, k.notTensor() as never, 'float64'),
      () => [...call('astype', lm.astype, k.nan([5]), k.pick(['int32', 'uint8', 'int8', 'bfloat16', 'float16'])), 'survives'],
      () => call('to', lm.to, k.t([2]), k.pick([k.badDevice(), null, undefined]) as never),
      () => call('to', lm.to, k.disposed(), 'cpu'),
      () => [...call('to', lm.to, k.t([2]), 'cuda'), 'survives'],
    ];
  },
  copyInto: (k) => [
    () => {
      const [a, b] = clash(k);
      return call('copyInto', lm.copyInto, k.t(a), k.t(b));
    },
    () => call('copyInto', lm.copyInto, k.t([2, 3]), k.t([3, 2, 3])),
    () => call('copyInto', lm.copyInto, k.notTensor() as never, k.t([2])),
    () => call('copyInto', lm.copyInto, k.t([2]), k.notTensor() as never),
    () => call('copyInto', lm.copyInto, k.disposed([2]), k.t([2])),
    () => call('copyInto', lm.copyInto, k.t([2]), k.disposed([2])),
    () => call('copyInto', lm.copyInto, k.t([2]).setRequiresGrad(), k.t([2])),
  ],
  cat: (k) => [
    () => call('cat', lm.cat, k.pick([[], null, 'ab', 3, {}, undefined]) as never),
    () => call('cat', lm.cat, [k.t([2, 3]), k.t([3, 2])], 0),
    () => call('cat', lm.cat, [k.t([2, 3]), k.t([2, 3], 'float64')], 0),
    () => call('cat', lm.cat, [k.t([2, 3]), k.t([2, 3])], k.badDim(2)),
    () => call('cat', lm.cat, [k.t([2, 3]), k.t([2, 3])], k.badInt() as never),
    () => call('cat', lm.cat, [k.t([]), k.t([])], 0),
    () => call('cat', lm.cat, [k.t([2]), k.notTensor()] as never, 0),
    () => call('cat', lm.cat, [k.t([2]), k.disposed([2])], 0),
    () => call('cat', lm.cat, [k.t([2, 3]), k.t([2])], 0),
  ],

  // Tensor methods
  tensorMethods: (k) => {
    const t = k.t([2, 3]);
    return [
      () => ['Tensor([2, 3]).item()', () => t.item()],
      () => ['disposed.dataSync()', () => k.disposed().dataSync()],
      () => ['disposed.toArray()', () => k.disposed().toArray()],
      () => ['disposed.strides', () => k.disposed().strides],
      () => ['disposed.detach()', () => k.disposed().detach()],
      () => ['disposed.backward()', () => k.disposed([]).backward()],
      () => ['disposed.sharesStorageWith(t)', () => k.disposed().sharesStorageWith(t)],
      () => [`t.sharesStorageWith(${'notTensor'})`, () => t.sharesStorageWith(k.notTensor() as never)],
      () => ['int32.requiresGrad = true', () => (k.intTensor().requiresGrad = true)],
      () => ['nonLeaf.setRequiresGrad(false)', () => lm.enableGrad(() => lm.mul(k.t([2]).setRequiresGrad(), 2).setRequiresGrad(false))],
      () => ['(no grad).backward()', () => k.t([]).backward()],
      () => ['nonScalar.backward()', () => lm.enableGrad(() => lm.mul(k.t([2, 3]).setRequiresGrad(), 2).backward())],
      () => ['y.backward(grad of wrong shape)', () => lm.enableGrad(() => lm.mul(k.t([2, 3]).setRequiresGrad(), 2).backward(k.t([3, 2])))],
      () => ['y.backward(grad of wrong dtype)', () => lm.enableGrad(() => lm.mul(k.t([2, 3]).setRequiresGrad(), 2).backward(k.t([2, 3], 'float64')))],
      () => ['y.backward(notTensor)', () => lm.enableGrad(() => lm.mul(k.t([2, 3]).setRequiresGrad(), 2).backward(k.notTensor() as never))],
      () => ['y.backward() twice', () => lm.enableGrad(() => { const y = lm.sum(lm.mul(k.t([2]).setRequiresGrad(), 2)); y.backward(); y.backward(); })],
      () => ['Tensor.slice("a")', () => (t.slice as (...a: unknown[]) => unknown).call(t, 'a', 0)],
      () => ['Tensor.permute(0, 0)', () => t.permute(0, 0)],
    ];
  },

  // memory, runtime, autograd
  runtime: (k) => [
    () => call('tidy', lm.tidy, k.pick([undefined, null, 3, 'fn', {}])),
    () => call('keep', lm.keep, k.notTensor() as never),
    () => call('memory', lm.memory, k.badDevice() as never),
    () => call('emptyCache', lm.emptyCache, k.badDevice() as never),
    () => call('resetPeakMemory', lm.resetPeakMemory, k.badDevice() as never),
    () => call('setCacheLimit', lm.setCacheLimit, k.pick([-1, NaN, '1', null, 1.5, -Infinity, 2 ** 64])),
    () => call('setNumThreads', lm.setNumThreads, k.pick([0, -1, 1.5, NaN, '2', null, 1e9, 2 ** 31, 1025])),
    () => call('setCpuTier', lm.setCpuTier, k.pick(['avx1024', 'AVX2', '', 3, {}]) as never),
    () => call('setDefaultDevice', lm.setDefaultDevice, k.badDevice() as never),
    () => call('matmulKernel', lm.matmulKernel, k.pick(['int8', 'float64', 'fp32', 3, null]) as never),
    () => call('noGrad', lm.noGrad, k.pick([undefined, null, 3, 'fn'])),
    () => call('enableGrad', lm.enableGrad, k.pick([undefined, null, 3, 'fn'])),
    () => call('gradcheck', lm.gradcheck, (x: Tensor) => x.mul(2), [k.t([3]).setRequiresGrad()]),
    () => call('gradcheck', lm.gradcheck, (x: Tensor) => x.mul(2), [lm.tensor([1, 2], [2], 'float64')]),
    () => call('gradcheck', lm.gradcheck, () => 3, [lm.tensor([1, 2], [2], 'float64').setRequiresGrad()]),
    () => call('gradcheck', lm.gradcheck, k.pick([null, 3, 'f']), [lm.tensor([1, 2], [2], 'float64').setRequiresGrad()]),
    () => call('gradcheck', lm.gradcheck, (x: Tensor) => x, k.pick([null, 3, 'x', [3]])),
  ],

  // layer ops
  activation: (k) => [
    () => call('activation', lm.activation, k.t([2, 3]), k.pick(['tanh', 'GELU', 'silu', 3, undefined, null, 'glu']) as never),
    () => call('activation', lm.activation, k.intTensor(), 'relu'),
    () => call('activation', lm.activation, k.disposed(), 'gelu'),
    () => call('activation', lm.activation, k.notTensor() as never, 'gelu'),
    () => [...call('activation', lm.activation, k.nan(), k.pick(['relu', 'gelu', 'swish'])), 'survives'],
    () => call('gatedActivation', lm.gatedActivation, k.t([2, k.pick([1, 3, 5])]), 'swiglu'),
    () => call('gatedActivation', lm.gatedActivation, k.t([]), 'glu'),
    () => call('gatedActivation', lm.gatedActivation, k.t([2, 4]), k.pick(['swish', 'relu', 'SwiGLU', 3, null]) as never),
    () => call('gatedActivation', lm.gatedActivation, k.t([2, 4], 'int32'), 'glu'),
    () => call('gatedActivation', lm.gatedActivation, k.disposed([2, 4]), 'geglu'),
    () => [...call('gatedActivation', lm.gatedActivation, k.nan([3, 6]), k.pick(['glu', 'geglu', 'swiglu', 'reglu'])), 'survives'],
  ],
  norms: (k) => {
    const x = k.t([2, 5]), w = k.t([5]), b = k.t([5]);
    return [
      () => call('layerNorm', lm.layerNorm, x, k.t(k.pick([[4], [5, 1], [], [6]]))),
      () => call('layerNorm', lm.layerNorm, x, w, k.t(k.pick([[4], [1, 5]]))),
      () => call('layerNorm', lm.layerNorm, x, k.t([5], 'float64'), b),
      () => call('layerNorm', lm.layerNorm, x, w, b, k.pick([-1, NaN, Infinity, '1e-5', null]) as never),
      () => call('layerNorm', lm.layerNorm, k.t([]), k.t([1])),
      () => call('layerNorm', lm.layerNorm, k.t([2, 5], 'int32'), w),
      () => call('layerNorm', lm.layerNorm, k.disposed([2, 5]), w),
      () => call('layerNorm', lm.layerNorm, x, k.disposed([5])),
      () => call('layerNorm', lm.layerNorm, x, w, k.disposed([5])),
      () => call('layerNorm', lm.layerNorm, x, k.notTensor() as never),
      () => call('rmsNorm', lm.rmsNorm, x, k.t(k.pick([[4], [5, 1], []]))),
      () => call('rmsNorm', lm.rmsNorm, x, w, k.pick([-1, NaN, Infinity, '1e-5']) as never),
      () => call('rmsNorm', lm.rmsNorm, k.disposed([2, 5]), w),
      () => call('rmsNorm', lm.rmsNorm, k.notTensor() as never, w),
      () => [...call('layerNorm', lm.layerNorm, k.nan([3, 5]), w, b), 'survives'],
      () => [...call('rmsNorm', lm.rmsNorm, k.nan([3, 5]), w), 'survives'],
    ];
  },
  rope: (k) => [
    () => call('rope', lm.rope, k.t([1, 2, 3, k.pick([1, 3, 5])])),
    () => call('rope', lm.rope, k.t([4])),
    () => call('rope', lm.rope, k.t([1, 2, 3, 4]), { offset: k.pick([-1, 1.5, NaN, '1', Infinity]) as never }),
    () => call('rope', lm.rope, k.t([1, 2, 3, 4]), { base: k.pick([0, -1, NaN, Infinity, '10000']) as never }),
    () => call('rope', lm.rope, k.t([1, 2, 3, 4]), { pairing: k.pick(['pairs', 'HALF', 3]) as never }),
    () => call('rope', lm.rope, k.t([1, 2, 3, 4]), { [k.unknownKey()]: 1 }),
    () => call('rope', lm.rope, k.t([1, 2, 3, 4], 'int32')),
    () => call('rope', lm.rope, k.disposed([1, 2, 3, 4])),
    () => call('rope', lm.rope, k.notTensor() as never),
    () => [...call('rope', lm.rope, k.t([1, 1, 3, 4]), { offset: k.pick([2 ** 31, 2 ** 40]) }), 'survives'],
    () => call('alibiSlopes', lm.alibiSlopes, k.pick([0, -1, 1.5, NaN, '4', null, Infinity])),
  ],
  attention: (k) => {
    const q = k.t([1, 2, 3, 4]), kv = k.t([1, 2, 3, 4]);
    const f = lm.attention as (...a: unknown[]) => Tensor;
    return [
      () => call('attention', f, k.t([2, 3, 4]), kv, kv),
      () => call('attention', f, q, k.t([1, 2, 3, 5]), k.t([1, 2, 3, 5])),
      () => call('attention', f, q, kv, k.t([1, 2, 4, 4])),
      () => call('attention', f, k.t([1, 3, 3, 4]), kv, kv),
      () => call('attention', f, q, k.t([1, 2, 3, 4], 'float64'), kv),
      () => call('attention', f, k.t([1, 2, 3, 4], 'int32'), k.t([1, 2, 3, 4], 'int32'), k.t([1, 2, 3, 4], 'int32')),
      () => call('attention', f, k.t([1, 2, 5, 4]), kv, kv),
      () => call('attention', f, q, kv, kv, { position: 'alibi', causal: false }),
      () => call('attention', f, q, kv, kv, { position: 'alibi', alibiSlopes: k.pick([[1], [1, NaN], [1, 2, 3], 'x', [1, '2']]) }),
      () => call('attention', f, q, kv, kv, { alibiSlopes: [0.5, 0.25] }),
      () => call('attention', f, q, kv, kv, { scale: k.pick([NaN, Infinity, '1']) }),
      () => call('attention', f, q, kv, kv, { causal: k.badBool() }),
      () => call('attention', f, q, kv, kv, { position: k.pick(['learned', 'ALIBI', 3]) }),
      () => call('attention', f, q, kv, kv, { [k.unknownKey()]: 1 }),
      () => call('attention', f, q, kv, kv, { docIds: k.pick([k.t([1, 3]), k.ints([1, 4], 3), k.ints([2, 3], 3), k.ints([3], 3)]) }),
      () => call('attention', f, q, kv, kv, { docIds: k.pick(['x', 3, {}, [1, 2]]) }),
      () => call('attention', f, k.disposed([1, 2, 3, 4]), kv, kv),
      () => call('attention', f, q, kv, k.notTensor()),
      () => call('attention', f, q, k.t([1, 0, 3, 4]), k.t([1, 0, 3, 4])),
      () => [...call('attention', f, k.nan([1, 2, 3, 4]), kv, kv), 'survives'],
      () => [...call('attention', f, k.t([1, 2, 0, 4]), kv, kv), 'survives'],
    ];
  },
  dropout: (k) => [
    () => call('dropout', lm.dropout, k.t([2, 3]), k.pick([1, -0.1, 1.5, NaN, '0.5', null, Infinity])),
    () => call('dropout', lm.dropout, k.t([2, 3]), 0.5, k.pick([-1, 1.5, NaN, '1', 2 ** 53])),
    () => call('dropout', lm.dropout, k.intTensor(), 0.5),
    () => call('dropout', lm.dropout, k.disposed(), 0.5),
    () => call('dropout', lm.dropout, k.notTensor() as never, 0.5),
  ],

  // nn modules
  Linear: (k) => {
    const L = (...a: unknown[]): unknown => new (lm.Linear as unknown as new (...b: unknown[]) => unknown)(...a);
    const m = new lm.Linear(3, 4, { seed: 1 });
    return [
      () => call('new Linear', L, k.pick([0, -1, 1.5, NaN, '3', null, Infinity, 2 ** 53]), 4),
      () => call('new Linear', L, 3, k.pick([0, -1, 1.5, NaN, '3', null])),
      () => call('new Linear', L, k.pick([2 ** 31, 2 ** 40]), k.pick([2 ** 31, 2 ** 40])),
      () => call('new Linear', L, 3, 4, { dtype: k.pick(['int32', 'float', 3]) }),
      () => call('new Linear', L, 3, 4, { device: k.badDevice() }),
      () => call('new Linear', L, 3, 4, { std: k.pick([-1, NaN, Infinity, '0.02']) }),
      () => call('new Linear', L, 3, 4, { seed: k.pick([-1, 1.5, NaN, '1']) }),
      () => call('new Linear', L, 3, 4, { [k.unknownKey()]: 1 }),
      () => call('new Linear', L, 3, 4, { bias: k.badBool() }),
      () => call('Linear.forward', (x: Tensor) => m.forward(x), k.t(k.pick([[2, 4], [4], [], [2, 3, 2]]))),
      () => call('Linear.forward', (x: Tensor) => m.forward(x), k.t([2, 3], k.pick(['int32', 'float64']))),
      () => call('Linear.forward', (x: Tensor) => m.forward(x), k.disposed([2, 3])),
      () => call('Linear.forward', (x: unknown) => m.forward(x as Tensor), k.notTensor()),
      () => call('Linear.forward', (x: Tensor, r: Tensor) => m.forward(x, r), k.t([2, 3]), k.t(k.pick([[2, 3], [4, 2], [3]]))),
    ];
  },
  Embedding: (k) => {
    const E = (...a: unknown[]): unknown => new (lm.Embedding as unknown as new (...b: unknown[]) => unknown)(...a);
    const m = new lm.Embedding(7, 3, { seed: 1 });
    return [
      () => call('new Embedding', E, k.pick([0, -1, 1.5, NaN, '7', null]), 3),
      () => call('new Embedding', E, 7, k.pick([0, -1, 1.5, NaN, '3'])),
      () => call('new Embedding', E, 7, 3, { [k.unknownKey()]: 1 }),
      () => call('new Embedding', E, 2 ** 40, 2 ** 10),
      () => call('Embedding.forward', (x: Tensor) => m.forward(x as Tensor<'int32'>), k.t([2])),
      () => call('Embedding.forward', (x: Tensor) => m.forward(x as Tensor<'int32'>), lm.tensor(Int32Array.of(1, k.pick([7, -1, 100])))),
      () => call('Embedding.forward', (x: Tensor) => m.forward(x as Tensor<'int32'>), k.disposed([2], 'int32')),
      () => call('Embedding.forward', (x: unknown) => m.forward(x as Tensor<'int32'>), k.notTensor()),
    ];
  },
  normModules: (k) => {
    const cls = k.pick([['LayerNorm', lm.LayerNorm], ['RMSNorm', lm.RMSNorm]] as const);
    const N = (...a: unknown[]): unknown => new (cls[1] as unknown as new (...b: unknown[]) => unknown)(...a);
    const m = new cls[1](5);
    return [
      () => call(`new ${cls[0]}`, N, k.pick([0, -1, 1.5, NaN, '5', null])),
      () => call(`new ${cls[0]}`, N, 5, { eps: k.pick([-1, NaN, Infinity, '1e-5']) }),
      () => call(`new ${cls[0]}`, N, 5, { [k.unknownKey()]: 1 }),
      () => call(`new ${cls[0]}`, N, 5, { dtype: k.pick(['int32', 'x']) }),
      () => call(`${cls[0]}.forward`, (x: Tensor) => m.forward(x), k.t(k.pick([[2, 4], [5, 2], []]))),
      () => call(`${cls[0]}.forward`, (x: Tensor) => m.forward(x), k.disposed([2, 5])),
      () => call(`${cls[0]}.forward`, (x: unknown) => m.forward(x as Tensor), k.notTensor()),
      () => call('makeNorm', lm.makeNorm, k.pick(['batchnorm', 'LayerNorm', 3, null]) as never, 5, {}),
    ];
  },
  Dropout: (k) => {
    const D = (...a: unknown[]): unknown => new (lm.Dropout as unknown as new (...b: unknown[]) => unknown)(...a);
    return [
      () => call('new Dropout', D, k.pick([1, -0.1, NaN, '0.1', null, 2])),
      () => call('new Dropout', D, 0.1, { [k.unknownKey()]: 1 }),
      () => call('new Dropout', D, 0.1, { seed: k.pick([-1, 1.5, NaN, '1']) }),
      () => call('Dropout.forward', (x: unknown) => new lm.Dropout(0.5).forward(x as Tensor), k.pick([k.intTensor(), k.disposed(), k.notTensor()])),
    ];
  },
  MLP: (k) => {
    const M = (o: unknown): unknown => new lm.MLP(o as lm.MLPOptions);
    const ok = { dim: 4, hidden: 6, activation: 'gelu' as const, seed: 1 };
    const m = new lm.MLP(ok);
    return [
      () => call('new MLP', M, { ...ok, activation: k.pick(['tanh', 'GELU', 3, undefined]) }),
      () => call('new MLP', M, { ...ok, hidden: k.pick([0, -1, 1.5, NaN, '6', undefined]) }),
      () => call('new MLP', M, { ...ok, dim: k.pick([0, -1, 1.5, NaN, '4', undefined]) }),
      () => call('new MLP', M, { ...ok, [k.unknownKey()]: 1 }),
      () => call('new MLP', M, k.pick([null, undefined, 3, 'mlp'])),
      () => call('MLP.forward', (x: Tensor) => m.forward(x), k.t(k.pick([[2, 5], [3], []]))),
      () => call('MLP.forward', (x: unknown) => m.forward(x as Tensor), k.pick([k.disposed([2, 4]), k.notTensor()])),
    ];
  },
  CausalSelfAttention: (k) => {
    const A = (o: unknown): unknown => new lm.CausalSelfAttention(o as lm.CausalSelfAttentionOptions);
    const ok = { dim: 8, heads: 2, seed: 1 };
    const m = new lm.CausalSelfAttention({ ...ok, position: 'rope' });
    return [
      () => call('new CausalSelfAttention', A, { ...ok, heads: k.pick([3, 0, -2, 1.5, NaN, '2']) }),
      () => call('new CausalSelfAttention', A, { ...ok, kvHeads: k.pick([3, 4, 0, 1.5]) }),
      () => call('new CausalSelfAttention', A, { ...ok, position: k.pick(['learned', 'sinusoidal', 3]) }),
      () => call('new CausalSelfAttention', A, { dim: 6, heads: 2, position: 'rope' }),
      () => call('new CausalSelfAttention', A, { ...ok, ropePairing: k.pick(['pairs', 3]) }),
      () => call('new CausalSelfAttention', A, { ...ok, ropeBase: k.pick([0, -1, NaN, '1e4']) }),
      () => call('new CausalSelfAttention', A, { ...ok, [k.unknownKey()]: 1 }),
      () => call('new CausalSelfAttention', A, k.pick([null, undefined, 3])),
      () => call('CausalSelfAttention.forward', (x: Tensor) => m.forward(x), k.t(k.pick([[2, 8], [1, 3, 7], [1, 3, 8, 1], []]))),
      () => call('CausalSelfAttention.forward', (x: unknown) => m.forward(x as Tensor), k.pick([k.disposed([1, 3, 8]), k.notTensor(), k.t([1, 3, 8], 'int32')])),
      () => call('CausalSelfAttention.forward', (x: Tensor, r: Tensor) => m.forward(x, { residual: r }), k.t([1, 3, 8]), k.t([1, 3, 7])),
      () => [`CausalSelfAttention.forward(x, { cache: full })`, () => {
        const cache = m.createCache(1, 2);
        return m.forward(k.t([1, 3, 8]), { cache });
      }],
      () => call('CausalSelfAttention.forward', (x: Tensor, o: unknown) => m.forward(x, o as never), k.t([1, 3, 8]), { [k.unknownKey()]: 1 }),
    ];
  },
  KVCache: (k) => {
    const C = (...a: unknown[]): unknown => new (lm.KVCache as unknown as new (...b: unknown[]) => unknown)(...a);
    return [
      () => call('new KVCache', C, k.pick([-1, 1.5, NaN, '1']), 2, 4, 4),
      () => call('new KVCache', C, 1, 2, k.pick([0, -1, 1.5, NaN]), 4),
      () => call('new KVCache', C, 1, 2, 4, k.pick([-1, 1.5, NaN])),
      () => call('new KVCache', C, 2 ** 20, 2 ** 20, 2 ** 20, 2 ** 20),
      () => call('new KVCache', C, 1, 2, 4, 4, { dtype: k.pick(['int32', 'x']) }),
      () => [`KVCache(1, 2, 4, 4).append(${'wrong shapes'})`, () => new lm.KVCache(1, 2, 4, 4).append(k.t(k.pick([[1, 2, 2, 3], [1, 3, 2, 4], [2, 4]])), k.t([1, 2, 2, 4]))],
      () => ['KVCache(1, 2, 4, 4).append(past capacity)', () => new lm.KVCache(1, 2, 4, 4).append(k.t([1, 2, 5, 4]), k.t([1, 2, 5, 4]))],
      () => ['KVCache.append(notTensor)', () => new lm.KVCache(1, 2, 4, 4).append(k.notTensor() as never, k.notTensor() as never)],
      () => ['KVCache.append(disposed)', () => new lm.KVCache(1, 2, 4, 4).append(k.disposed([1, 2, 1, 4]), k.disposed([1, 2, 1, 4]))],
    ];
  },
  Block: (k) => {
    const B = (o: unknown): unknown => new lm.Block(o as lm.BlockOptions);
    const ok = { dim: 8, heads: 2, activation: 'gelu' as const, mlpHidden: 12, seed: 1 };
    return [
      () => call('new Block', B, { ...ok, norm: k.pick(['batchnorm', 3]) }),
      () => call('new Block', B, { ...ok, dropout: k.pick([1, -0.1, NaN, '0']) }),
      () => call('new Block', B, { ...ok, normEps: k.pick([-1, NaN, '1e-5']) }),
      () => call('new Block', B, { ...ok, mlpHidden: k.pick([0, -3, 1.5]) }),
      () => call('new Block', B, { ...ok, [k.unknownKey()]: 1 }),
      () => call('Block.forward', (x: Tensor) => new lm.Block(ok).forward(x), k.t(k.pick([[1, 3, 7], [3, 8], []]))),
    ];
  },
  GPTConfig: (k) => {
    const ok: lm.GPTConfig = { vocabSize: 11, seqLen: 8, layers: 1, dim: 8, heads: 2, seed: 1 };
    const bad = (): Record<string, unknown> =>
      k.pick([
        { vocabSize: k.pick([0, -1, 1.5, NaN, '11', Infinity]) },
        { seqLen: k.pick([0, -1, 1.5, NaN, Infinity]) },
        { layers: k.pick([-1, 1.5, NaN, '1']) },
        { dim: 7 },
        { heads: k.pick([0, 3, 1.5]) },
        { kvHeads: k.pick([0, 3, 1.5]) },
        { position: k.pick(['sinusoidal', 'ROPE', 3]) },
        { ropeBase: k.pick([0, -1, NaN, '1e4']) },
        { ropePairing: k.pick(['pairs', 3]) },
        { activation: k.pick(['tanh', 'GeLU', 3]) },
        { mlpHidden: k.pick([0, -1, 1.5, NaN]) },
        { norm: k.pick(['batchnorm', 3]) },
        { normEps: k.pick([-1, NaN, Infinity, '1e-5']) },
        { tieEmbeddings: k.badBool() },
        { dropout: k.pick([1, -0.1, NaN, '0']) },
        { bias: k.badBool() },
        { initStd: k.pick([-1, NaN, Infinity, '0.02']) },
        { seed: k.pick([-1, 1.5, NaN, '1']) },
        { dtype: k.pick(['int32', 'float', 3]) },
        { device: k.badDevice() },
        { precision: k.pick(['fp8', 'bf32', 3]) },
        { precision: 'bf16', dtype: 'float64' },
        { [k.unknownKey()]: 1 },
        { position: 'rope', dim: 6, heads: 2 },
      ]);
    const f = k.pick([['new GPT', (c: unknown) => new lm.GPT(c as lm.GPTConfig)], ['resolveGPTConfig', lm.resolveGPTConfig], ['parameterCount', lm.parameterCount]] as const);
    return [
      () => call(f[0], f[1] as (c: unknown) => unknown, { ...ok, ...bad() }),
      // a vocabulary no memory holds is a valid configuration; only building the model must refuse it
      () => [...call(f[0], f[1] as (c: unknown) => unknown, { ...ok, vocabSize: 2 ** 46 }), f[0] === 'new GPT' ? 'throws' : 'survives'],
      () => call(f[0], f[1] as (c: unknown) => unknown, k.pick([null, undefined, 3, 'gpt', []])),
      () => call(f[0], f[1] as (c: unknown) => unknown, { vocabSize: 11 }),
    ];
  },
  GPT: (k) => {
    const m = smallModel(k);
    const fwd = (x: unknown, y?: unknown): unknown => m.forward(x as Tensor<'int32'>, y as Tensor<'int32'>);
    const gen = (p: unknown, o: unknown): unknown => m.generate(p as Tensor<'int32'>, o as lm.GenerateOptions);
    return [
      () => call('GPT.forward', fwd, k.t([1, 4])),
      () => call('GPT.forward', fwd, lm.tensor(Int32Array.of(1, 2, k.pick([11, -1, 100, 2 ** 31 - 1])), [1, 3])),
      () => call('GPT.forward', fwd, k.ints([1, k.pick([9, 20])], 11)),
      () => call('GPT.forward', fwd, k.ints(k.pick([[4], [], [1, 2, 3]]), 11)),
      () => call('GPT.forward', fwd, k.ints([1, 0], 11)),
      () => call('GPT.forward', fwd, k.ints([2, 4], 11), k.pick([k.ints([2, 3], 11), k.t([2, 4]), k.ints([4], 11)])),
      () => call('GPT.forward', fwd, k.ints([2, 4], 11), lm.tensor(Int32Array.from([0, 1, 2, 3, 4, 5, 6, k.pick([11, -5, 99])]), [2, 4])),
      () => call('GPT.forward', fwd, k.disposed([1, 4], 'int32')),
      () => call('GPT.forward', fwd, k.notTensor()),
      () => call('GPT.generate', gen, k.ints([1, 3], 11), { maxTokens: k.pick([-1, 1.5, NaN, '2', 6, 100]) }),
      () => call('GPT.generate', gen, k.ints([1, 3], 11), { maxTokens: 2, temperature: k.pick([-1, NaN, Infinity, '1']) }),
      () => call('GPT.generate', gen, k.ints([1, 3], 11), { maxTokens: 2, topK: k.pick([0, -1, 1.5, NaN, '2']) }),
      () => call('GPT.generate', gen, k.ints([1, 3], 11), { maxTokens: 2, seed: k.pick([-1, 1.5, NaN]) }),
      () => call('GPT.generate', gen, k.ints([1, 3], 11), { maxTokens: 2, [k.unknownKey()]: 1 }),
      () => call('GPT.generate', gen, k.ints([1, 3], 11), k.pick([undefined, null, 3])),
      () => call('GPT.generate', gen, k.pick([k.t([1, 3]), k.ints([1, 0], 11), k.disposed([1, 3], 'int32'), k.notTensor()]), { maxTokens: 2 }),
    ];
  },
  Module: (k) => {
    const m = new lm.Linear(3, 2, { seed: 1 });
    return [
      () => call('Module.loadStateDict', (s: unknown) => m.loadStateDict(s as lm.StateDict), k.pick([{}, { weight: k.t([2, 3]) }, { weight: k.t([3, 2]), bias: k.t([2]) }, { weight: k.t([2, 3]), bias: k.t([2]), extra: k.t([1]) }])),
      () => call('Module.loadStateDict', (s: unknown) => m.loadStateDict(s as lm.StateDict), { weight: k.t([2, 3], 'float64'), bias: k.t([2]) }),
      () => call('Module.loadStateDict', (s: unknown) => m.loadStateDict(s as lm.StateDict), { weight: k.pick([k.disposed([2, 3]), k.notTensor()]), bias: k.t([2]) }),
      () => call('Module.loadStateDict', (s: unknown) => m.loadStateDict(s as lm.StateDict), k.pick([3, 'x', [k.t([2])]])),
      () => call('Module.loadStateDict', (s: unknown, o: unknown) => m.loadStateDict(s as lm.StateDict, o as never), { weight: k.t([2, 3]), bias: k.t([2]) }, { strict: k.badBool() }),
      () => call('Module.to', (d: unknown) => m.to(d as never), k.badDevice()),
      () => call('ModuleList.at', (i: unknown) => new lm.ModuleList([m]).at(i as number), k.pick([1, -2, 99, 1.5, NaN])),
      () => call('ModuleList.push', (x: unknown) => new lm.ModuleList().push(x as lm.Module), k.pick([null, 3, {}, k.t([2])])),
      () => call('new ModuleList', (x: unknown) => new lm.ModuleList(x as lm.Module[]), k.pick([[3], [null], 3])),
    ];
  },
  init: (k) => [
    () => call('initNormal', lm.initNormal, k.badShape() as never, 0.02),
    () => call('initNormal', lm.initNormal, [2, 3], k.pick([-1, NaN, Infinity, '0.02', null]) as never),
    () => call('initNormal', lm.initNormal, [2, 3], 0.02, { [k.unknownKey()]: 1 } as never),
    () => call('initNormal', lm.initNormal, [2, 3], 0.02, { dtype: k.pick(['int32', 'x']) as never }),
    () => call('initUniform', lm.initUniform, [2, 3], k.pick([-1, NaN, Infinity, '1']) as never),
    () => call('initUniform', lm.initUniform, k.hugeShape(), 1),
    () => call('seedFor', lm.seedFor, k.pick([-1, 1.5, NaN, '1', null]) as never, 'w'),
    () => call('seedFor', lm.seedFor, 1, k.pick([3, null, undefined, {}]) as never),
    () => call('defaultMlpHidden', lm.defaultMlpHidden, k.pick([0, -1, 1.5, NaN, '8']) as never, 'gelu'),
    () => call('defaultMlpHidden', lm.defaultMlpHidden, 8, k.pick(['tanh', 3, null]) as never),
    () => call('sampleToken', lm.sampleToken, [1, NaN, 2], 0, 3, 1, undefined, 0.5),
    () => call('sampleToken', lm.sampleToken, [1, 2, 3], k.pick([-1, 1, 5, 1.5, NaN]), 3, 1, undefined, 0.5),
    () => call('sampleToken', lm.sampleToken, [1, 2, 3], 0, k.pick([0, -1, 4, 1.5, NaN]), 1, undefined, 0.5),
    () => call('sampleToken', lm.sampleToken, [1, 2, 3], 0, 3, k.pick([-1, NaN, Infinity]), undefined, 0.5),
    () => call('sampleToken', lm.sampleToken, [1, 2, 3], 0, 3, 1, k.pick([0, -1, 1.5, NaN]), 0.5),
    () => call('sampleToken', lm.sampleToken, [1, 2, 3], 0, 3, 1, undefined, k.pick([-0.5, 1, 1.5, NaN])),
  ],

  // optimizers
  optimizerNew: (k) => {
    const [name, Opt] = k.pick(OPTIMIZERS);
    const mk = (p: unknown, o?: unknown): unknown => new Opt(p as Tensor[], o as Record<string, unknown>);
    return [
      () => call(`new ${name}`, mk, k.pick([[], null, 'x', 3, {}, [k.notTensor()]])),
      () => call(`new ${name}`, mk, [k.t([2]).setRequiresGrad(), k.pick([k.notTensor(), k.intTensor(), k.t([2], 'float64')])]),
      () => call(`new ${name}`, mk, [lm.enableGrad(() => lm.mul(k.t([2]).setRequiresGrad(), 2))]),
      () => call(`new ${name}`, mk, [k.t([2]).setRequiresGrad()], { lr: k.pick([-1, NaN, Infinity, '0.1', null]) }),
      () => call(`new ${name}`, mk, [k.t([2]).setRequiresGrad()], { [k.unknownKey()]: 1 }),
      () => call(`new ${name}`, mk, [k.t([2]).setRequiresGrad()], { weightDecay: k.pick([-1, NaN, '0']) }),
      () => call(`new ${name}`, mk, [k.t([2]).setRequiresGrad()], { beta1: k.pick([-0.5, 1.5, NaN]), beta2: 0.9 }),
      () => call(`new ${name}`, mk, [{ params: [k.t([2]).setRequiresGrad()], names: ['a', 'b'] }]),
      () => call(`new ${name}`, mk, [{ params: 'x' }]),
      () => call(`new ${name}`, mk, [{ params: [k.t([2]).setRequiresGrad()], lr: -1 }]),
    ];
  },
  optimizerUse: (k) => {
    const [name, Opt] = k.pick(OPTIMIZERS);
    const p = trainedParam(k);
    const opt = new Opt([p]);
    return [
      () => [`${name}.step() without gradients`, () => { p.grad = null; return opt.step(); }],
      () => [`${name}.step() with a gradient of the wrong shape`, () => { p.grad = k.t(k.pick([[2, 3], [6], [3, 2, 1]])); return opt.step(); }],
      () => [`${name}.step() with a float64 gradient`, () => { p.grad = k.t([3, 2], 'float64'); return opt.step(); }],
      () => [`${name}.step() with an int32 gradient`, () => { p.grad = k.t([3, 2], 'int32'); return opt.step(); }],
      () => [`${name}.step() with a disposed gradient`, () => { p.grad = k.disposed([3, 2]); return opt.step(); }],
      () => [`${name}.step() with a NaN gradient`, () => { p.grad = k.nan([3, 2]); return opt.step(); }, 'survives'],
      () => [`${name}.step() after the parameter was disposed`, () => { p.dispose(); return opt.step(); }],
      () => call(`${name}.setLr`, (v: unknown) => opt.setLr(v as number), k.pick([-1, NaN, Infinity, '0.1', null])),
      () => call(`${name}.loadStateDict`, (s: unknown) => opt.loadStateDict(s as never), k.pick([null, 3, {}, { optimizer: 'Nope', state: [] }, { optimizer: name, step: -1 }, { optimizer: name, groups: 'x' }])),
      () => call(`${name}.addParamGroup`, (g: unknown) => opt.addParamGroup(g as never), k.pick([null, 3, {}, { params: [p] }, { params: [k.t([2])], lr: NaN }])),
      () => call('quant8Map', lm.quant8Map, k.pick(['x', 3, null, undefined, {}]) as never),
      () => call(`${name}.stateBytes`, (t: unknown) => opt.stateBytes(t as Tensor), k.pick([k.t([2]), 3, 'x'])),
    ];
  },
  clip: (k) => [
    () => call('clipGradNorm', lm.clipGradNorm, k.pick([null, 3, 'x', {}]) as never, 1),
    () => call('clipGradNorm', lm.clipGradNorm, [trainedParam(k)], k.pick([0, -1, NaN, '1', null])),
    () => call('clipGradNorm', lm.clipGradNorm, [trainedParam(k), k.notTensor()] as never, 1),
    () => call('clipGradNorm', lm.clipGradNorm, [(() => { const p = trainedParam(k); p.grad!.dispose(); return p; })()], 1),
    () => [...call('clipGradNorm', lm.clipGradNorm, [(() => { const p = trainedParam(k); p.grad = k.nan([3, 2]); return p; })()], 1), 'survives'],
    () => call('gradNorm', lm.gradNorm, k.pick([null, 3, 'x']) as never),
    () => call('gnbHessian', lm.gnbHessian, [trainedParam(k)], k.pick([null, 3, () => 3, () => k.t([2, 3])]) as never),
    () => call('gnbHessian', lm.gnbHessian, k.pick([null, 3, [k.notTensor()]]) as never, () => k.t([2, 3])),
    () => ['SophiaG.updateHessian(wrong)', () => new lm.SophiaG([trainedParam(k)]).updateHessian(k.pick([[], [k.t([2])], [k.t([3, 2]), k.t([3, 2])], 3, [k.disposed([3, 2])]]) as never)],
  ],
  schedules: (k) => [
    () => call('constantSchedule', lm.constantSchedule, k.pick([-1, NaN, Infinity, '1', null])),
    () => call('warmupDecaySchedule', lm.warmupDecaySchedule, k.pick([
      { lr: NaN, warmupSteps: 1, totalSteps: 2 }, { lr: 1, warmupSteps: 5, totalSteps: 2 }, { lr: 1, warmupSteps: 1, totalSteps: 2, decay: 'exp' },
      { lr: 1 }, { lr: 1, warmupSteps: 1, totalSteps: 2, minLr: 2 }, { lr: '1', warmupSteps: 1, totalSteps: 2 }, { lr: 1, warmupSteps: -1, totalSteps: 2 },
    ]) as never),
    () => call('inverseSqrtSchedule', lm.inverseSqrtSchedule, k.pick([{ lr: 1, warmupSteps: 0 }, { lr: -1, warmupSteps: 1 }, { lr: 1 }, null]) as never),
    () => call('warmupDecaySchedule', lm.warmupDecaySchedule, k.pick([null, undefined, 3]) as never),
    () => call('schedule(step)', lm.constantSchedule(0.1), k.pick([-1, 1.5, NaN, '1'])),
    () => call('paramGroups', lm.paramGroups, k.pick([null, 3, { a: 3 }, [['a', 3]]]) as never, { weightDecay: 0.1 }),
    () => call('paramGroups', lm.paramGroups, { w: k.t([2, 2]) }, { weightDecay: k.pick([-1, NaN, '0.1']) } as never),
  ],

  // data
  tokenizers: (k) => {
    const bt = new lm.ByteTokenizer();
    return [
      () => call('ByteTokenizer.encodeSync', (s: unknown) => bt.encodeSync(s as string), k.pick([3, null, undefined, {}, ['a']])),
      () => call('ByteTokenizer.decodeSync', (s: unknown) => bt.decodeSync(s as number[]), k.pick([[-1], [257], [1.5], [NaN], [2 ** 31], 'abc', null, 3])),
      () => call('tokenizerFromSpec', lm.tokenizerFromSpec, k.pick([null, 'x', {}, { kind: 'nonsense' }, { kind: 'file', path: '', sha256: '' }, { kind: 'huggingface', path: k.scratch('nope.json'), sha256: 'x' }]) as never),
      () => call('loadTokenizer', lm.loadTokenizer, k.pick([k.scratch('nope.json'), k.scratch('garbage.json'), k.scratch('notjson.json'), k.scratch('file.txt'), '', 3, null]) as never),
      () => call('HuggingFaceTokenizer.fromFile', (p: unknown) => lm.HuggingFaceTokenizer.fromFile(p as string), k.pick([k.scratch('nope.json'), k.scratch('garbage.json'), k.scratch('notjson.json'), scratchDir()])),
      () => call('loadTokenizerFile', lm.loadTokenizerFile, k.pick([k.scratch('nope.json'), k.scratch('garbage.json'), k.scratch('notjson.json'), scratchDir()]) as never),
      () => call('new BpeTokenizer', (p: unknown) => new lm.BpeTokenizer(p as never), k.pick([null, {}, { vocab: 3 }, { vocab: [], merges: 'x' }, 3])),
      () => call('new UnigramTokenizer', (p: unknown) => new lm.UnigramTokenizer(p as never), k.pick([null, {}, { vocab: 3 }, { pieces: [['a', NaN]] }, 3])),
      () => call('trainBpe', lm.trainBpe, ['some text here', 'and more'], k.pick([{ vocabSize: -1 }, { vocabSize: 1.5 }, { vocabSize: '300' }, { vocabSize: 300, [k.unknownKey()]: 1 }, {}, null]) as never),
      () => call('trainBpe', lm.trainBpe, k.pick([null, 3, [3, 4]]) as never, { vocabSize: 300 }),
      () => call('trainUnigram', lm.trainUnigram, ['some text here', 'and more'], k.pick([{ vocabSize: -1 }, { vocabSize: 1.5 }, { vocabSize: NaN }, { vocabSize: 40, [k.unknownKey()]: 1 }, null]) as never),
      () => call('trainUnigram', lm.trainUnigram, k.pick([null, 3, [3, 4]]) as never, { vocabSize: 40 }),
      () => call('countWords', lm.countWords, k.pick([null, 3, [3, 4]]) as never),
      () => call('pretokenize', lm.pretokenize, k.pick([3, null, undefined, {}]) as never),
      () => call('wtf8Encode', lm.wtf8Encode, k.pick([3, null, undefined, {}]) as never),
      () => call('wtf8Decode', lm.wtf8Decode, k.pick(['x', null, [1, 2], 3]) as never),
      () => call('unigramWords', lm.unigramWords, k.pick([3, null, undefined]) as never),
    ];
  },
  dataset: (k) => {
    const toks = Uint16Array.from({ length: 40 }, (_, i) => i % 7);
    const sampler = new lm.RandomWindowSampler(toks, 4, 1);
    return [
      () => call('splitDocuments', lm.splitDocuments, k.pick([-1, 1.5, NaN, '3', null]) as never),
      () => call('splitDocuments', lm.splitDocuments, 10, k.pick([{ valFraction: 1 }, { valFraction: -0.1 }, { valFraction: NaN }, { valFraction: '0.1' }, { seed: -1 }, { seed: 1.5 }, { [k.unknownKey()]: 1 }]) as never),
      () => call('packDocuments', lm.packDocuments, k.pick([null, 3, [3], ['abc']]) as never, 0, 10),
      () => call('packDocuments', lm.packDocuments, [Int32Array.of(1, 2)], k.pick([-1, 1.5, NaN, 10, 70000]), 10),
      () => call('packDocuments', lm.packDocuments, [Int32Array.of(1, k.pick([10, -1, 70000]))], 0, 10),
      () => call('packDocuments', lm.packDocuments, [Int32Array.of(1, 2)], 0, k.pick([0, -1, NaN, 1.5])),
      () => call('new RandomWindowSampler', (...a: unknown[]) => new lm.RandomWindowSampler(...(a as [never, never, never])), k.pick([toks.slice(0, 3), null, 'abc']), 4, 0),
      () => call('new RandomWindowSampler', (...a: unknown[]) => new lm.RandomWindowSampler(...(a as [never, never, never])), toks, k.pick([0, -1, 1.5, NaN, '4']), 0),
      () => call('new RandomWindowSampler', (...a: unknown[]) => new lm.RandomWindowSampler(...(a as [never, never, never])), toks, 4, k.pick([-1, 1.5, NaN, '0'])),
      () => call('new SequentialSampler', (...a: unknown[]) => new lm.SequentialSampler(...(a as [never, never])), k.pick([toks.slice(0, 3), toks]), k.pick([0, 1.5, NaN, 40])),
      () => call('Sampler.next', (b: unknown) => sampler.next(b as number), k.pick([0, -1, 1.5, NaN, '2', 2 ** 40])),
      () => call('Sampler.setState', (s: unknown) => sampler.setState(s as never), k.pick([null, {}, { kind: 'sequential', position: 0, seed: 1 }, { kind: 'random', position: -1, seed: 1 }, { kind: 'random', position: 1.5, seed: 1 }, { kind: 'random', position: 0, seed: 2 }])),
      () => call('dataStats', lm.dataStats, k.pick([[], null, ['a'], [-5, 3], [NaN], [1.5]]) as never, 8),
      () => call('dataStats', lm.dataStats, [3, 5], k.pick([0, -1, 1.5, NaN, '8'])),
      () => call('loadDocuments', lm.loadDocuments, k.pick([[k.scratch('nope')], 'x', null, [3]]) as never),
      () => call('readDocuments', lm.readDocuments, k.pick([[k.scratch('nope')], 'x', null, [3], [join(k.scratch('file.txt'), 'below')]]) as never),
      () => call('stripBrownTags', lm.stripBrownTags, k.pick([3, null, undefined]) as never),
      () => call('tokenizeDocuments', lm.tokenizeDocuments as never, k.pick([null, 3, [{ text: 3 }]]), new lm.ByteTokenizer()),
      () => call('tokensPerByte', lm.tokensPerByte, k.pick([null, 3, {}]) as never),
    ];
  },

  tagged: (k) => {
    const word = (): unknown => k.pick([null, 3, 'the', { word: 3, tag: 'nn' }, { word: 'x' }, { word: 'x', tag: null }, ['x', 'nn']]);
    return [
      () => [...call('brownTaggedCorpus', lm.brownTaggedCorpus), 'survives'],
      () => call('taggedSentenceText', lm.taggedSentenceText, k.pick([null, 3, 'The/at jury/nn', {}, undefined]) as never),
      () => call('taggedSentenceText', lm.taggedSentenceText, [{ word: 'The', tag: 'at' }, word()] as never),
      () => call('taggedText', lm.taggedText, k.pick([null, 3, 'x', {}, { source: 'a' }, { source: 'a', sentences: 'x' }, { sentences: [3] }]) as never),
      () => call('taggedText', lm.taggedText, { source: 'a', sentences: [[{ word: 'The', tag: 'at' }], [word()]] } as never),
      () => call('brownBaseTag', lm.brownBaseTag, k.pick([null, 3, undefined, {}, ['nn']]) as never),
    ];
  },
  evalTasks: (k) => {
    const lines = (name: string, text: string): string => {
      const path = k.scratch(name);
      writeFileSync(path, text);
      return path;
    };
    const doc = { source: 'a', text: 'the cat sat on the mat\nand then the cat ran to the cat' };
    const tagged = { source: 'a', sentences: [['The/at', 'old/jj', 'dog/nn', 'ran/vbd', 'home/nr', 'fast/rb', './.'].map((t) => ({ word: t.split('/')[0]!, tag: t.split('/')[1]! }))] };
    const choice = { name: 't', kind: 'choice', examples: [{ context: 'a', choices: ['b', 'c'], gold: 0 }] };
    const badTask = (): unknown => k.pick([
      null, 3, {}, { name: 't', kind: 'mc', examples: [] }, { name: 3, kind: 'choice', examples: choice.examples }, { name: 't', kind: 'choice', examples: [] },
      { name: 't', kind: 'choice', examples: [{ context: 'a', choices: ['b'], gold: 0 }] }, { name: 't', kind: 'choice', examples: [{ context: 'a', choices: ['b', 'c'], gold: 2 }] },
      { name: 't', kind: 'choice', examples: [{ context: 3, choices: ['b', 'c'], gold: 0 }] }, { name: 't', kind: 'last-word', examples: [{ context: 'a', target: '' }] },
      { name: 't', kind: 'last-word', examples: [null] }, { name: 't', kind: 'last-word', examples: [{ context: 'a', target: 'x'.repeat(50) }] },
    ]);
    const tok = new lm.ByteTokenizer();
    // A model whose vocabulary holds every byte-tokenizer id, so that only the argument under test is wrong.
    const model = (): lm.GPT => smallModel(k, { vocabSize: 257 });
    // A user's tokenizer that encodes every text to `ids` (a plain array: no Int32Array truncates them first).
    const fakeTok = (ids: unknown): unknown => ({ vocabSize: 257, eot: 256, encode: async () => ids, decode: async () => 'x' });
    return [
      () => call('buildLastWordTask', lm.buildLastWordTask, k.pick([null, 3, 'x', [null], [{ text: 3 }], [{}], [{ text: 'no lines here' }]]) as never),
      () => call('buildLastWordTask', lm.buildLastWordTask, [doc], k.pick([null, 3, { seed: -1 }, { seed: 1.5 }, { examples: 0 }, { examples: NaN }, { avoid: ['x'] }, { avoid: 'x' }, { [k.unknownKey()]: 1 }]) as never),
      () => call('buildClozeTask', lm.buildClozeTask, k.pick([null, 3, 'x', [null], [{ sentences: 3 }], [{ sentences: [[{ word: 3, tag: 'nn' }]] }], [{ source: 'a', sentences: [] }], [tagged]]) as never),
      () => call('buildClozeTask', lm.buildClozeTask, [tagged], k.pick([null, 3, { seed: NaN }, { examples: -1 }, { distractors: 0 }, { distractors: 1.5 }, { distractors: 1e9 }, { avoid: [] }, { [k.unknownKey()]: 1 }]) as never),
      () => call('builtinTasks', lm.builtinTasks, k.pick([null, 3, 'x', { seed: -1 }, { examples: 0 }, { examples: 1.5 }, { valFraction: 0 }, { valFraction: 1 }, { valFraction: NaN }, { splitSeed: -1 }, { [k.unknownKey()]: 1 }]) as never),
      () => call('loadJsonlTasks', lm.loadJsonlTasks, k.pick([null, 3, {}, k.scratch('nope.jsonl'), scratchDir(), k.scratch('notjson.json'), k.scratch('file.txt')]) as never),
      () => call('loadJsonlTasks', lm.loadJsonlTasks, lines(`t${k.int(0, 1e9)}.jsonl`, k.pick([
        '', '\n\n', '{"context": "a", "choices": ["b", "c"], "gold": 2}', '{"context": "a", "choices": ["b"], "gold": 0}', '{"context": "a", "choices": ["b", ""], "gold": 0}',
        '{"context": "a", "choices": "bc", "gold": 0}', '{"choices": ["b", "c"], "gold": 0}', '{"context": "a", "choices": ["b", "c"], "gold": "0"}', '[1, 2]', 'null', '{"context": "a", "choices": ["b", "c"], "gold": 0}\n{oops',
      ]))),
      () => call('evaluateTasks', lm.evaluateTasks, k.pick([null, 3, {}, tok]) as never, tok, [choice]),
      () => call('evaluateTasks', lm.evaluateTasks, model(), k.pick([null, 3, {}, { encode: 3, decode: 3, eot: 0 }, { encode: () => 0, decode: () => 0, eot: 1.5 }]) as never, [choice]),
      () => call('evaluateTasks', lm.evaluateTasks, model(), tok, k.pick([null, 3, [], 'x', [badTask()]]) as never),
      () => call('evaluateTasks', lm.evaluateTasks, model(), tok, [choice] as never, k.pick([null, 3, { batchSize: 0 }, { batchSize: 1.5 }, { batchSize: NaN }, { [k.unknownKey()]: 1 }]) as never),
      // a tokenizer whose ids the model has no embedding for, or that gives no valid ids at all
      () => call('evaluateTasks', lm.evaluateTasks, smallModel(k), tok, [choice] as never),
      () => call('evaluateTasks', lm.evaluateTasks, model(), fakeTok(k.pick([[-1], [1.5], [NaN], [257], [2 ** 31 - 1], ['1'], null, 3, 'ab'])) as never, [choice] as never),
      () => call('evaluateTasks', lm.evaluateTasks, model(), { ...(fakeTok([1, 2]) as object), decode: async () => k.pick([3, null, ['x']]) } as never, [{ name: 't', kind: 'last-word', examples: [{ context: 'a b', target: 'cat' }] }] as never),
      () => call('evaluateTasks', lm.evaluateTasks, model(), { ...(fakeTok([1]) as object), eot: k.pick([-1, 257, 1000]) } as never, [{ name: 't', kind: 'choice', examples: [{ context: '', choices: ['b', 'c'], gold: 0 }] }] as never),
    ];
  },
  charts: (k) => {
    const line = (o: Record<string, unknown>): Record<string, unknown> => ({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 's', points: [[1, 2], [2, 3]] }], ...o });
    const bar = (o: Record<string, unknown>): Record<string, unknown> => ({ title: 't', yLabel: 'y', bars: [{ label: 'a', value: 1 }], ...o });
    const axis = (): Record<string, unknown> => k.pick([
      { title: 3 }, { yLabel: null }, { width: k.pick([NaN, -720, 0, 10, '720', Infinity, 1e12]) }, { height: k.pick([NaN, -440, 0, 10, '440', 1e12]) },
      { logY: k.pick([3, 'log', 0.5, {}]) }, { yFromZero: k.badBool() }, { [k.unknownKey()]: 1 },
    ]);
    return [
      () => call('escapeXml', lm.escapeXml, k.pick([null, undefined, 3, {}, ['<'], 5n]) as never),
      () => call('linearTicks', lm.linearTicks, k.pick([NaN, -Infinity, '0', null, 1e308]), k.pick([Infinity, NaN, '1', -1e308])),
      () => call('linearTicks', lm.linearTicks, 0, 1, k.pick([0, -1, NaN, Infinity, 1.5, 1e9, '5', null])),
      // hi below lo, a span past float64's range, a span float64 cannot tell apart from the values
      () => call('linearTicks', lm.linearTicks, ...k.pick([[5, 1], [1, -1], [-1e308, 1e308], [1, 1 + 2 ** -52], [1e20, 1e20 + 2 ** 17], [-1e300, -1e300 + 1e284], [0, 5e-324]])),
      () => call('logTicks', lm.logTicks, k.pick([0, -1, NaN, -Infinity, '1', null]), 100, k.pick([2, 10])),
      () => call('logTicks', lm.logTicks, 1, k.pick([Infinity, NaN, 0.5, -1, '100']), k.pick([2, 10])),
      () => call('logTicks', lm.logTicks, 1, 100, k.pick([0, 1, 3, -2, NaN, '10', null, undefined, 1.5])),
      () => call('lineChart', lm.lineChart, k.pick([null, undefined, 3, 'x', []]) as never),
      () => call('lineChart', lm.lineChart, line(axis()) as never),
      () => call('lineChart', lm.lineChart, line(k.pick([{ xLabel: 3 }, { series: null }, { series: 'x' }, { series: [null] }, { logX: k.pick([3, 'log', -2]) }, { series: [{ name: 's' }] }])) as never),
      () => call('lineChart', lm.lineChart, line({ series: [k.pick([
        { name: 3, points: [] }, { name: 's', points: 'x' }, { name: 's', points: [[1]] }, { name: 's', points: [[1, 2, 3]] }, { name: 's', points: [null] }, { name: 's', points: [['1', 2]] },
        { name: 's', points: [[1, 2]], yError: 'x' }, { name: 's', points: [[1, 2]], yError: ['1'] }, { name: 's', points: [[1, 2]], dashed: 'yes' }, { name: 's', points: [[1, 2]], markers: 1 },
        { name: 's', points: [[1, 2]], [k.unknownKey()]: 1 },
      ])] }) as never),
      // values whose axis no float64 holds: the span, or the widened ends, overflow
      () => call('lineChart', lm.lineChart, line({ series: [{ name: 's', points: k.pick([[[0, 1.7e308], [1, -1.7e308]], [[0, 1.7e308], [1, 1]], [[-1.7e308, 1], [1.7e308, 2]]]) }] }) as never),
      () => call('lineChart', lm.lineChart, line({ logY: true, series: [{ name: 's', points: k.pick([[[1, 5e-324], [2, 1]], [[1, 1.7e308], [2, 1]]]) }] }) as never),
      () => [...call('lineChart', lm.lineChart, line({ series: [{ name: 's', points: [[1, NaN], [Infinity, 2], [2, 3]], yError: [NaN, -1, Infinity] }] }) as never), 'survives'],
      () => call('barChart', lm.barChart, k.pick([null, undefined, 3, 'x', []]) as never),
      () => call('barChart', lm.barChart, bar(axis()) as never),
      () => call('barChart', lm.barChart, bar(k.pick([{ bars: null }, { bars: 'x' }, { bars: [null] }, { xLabel: 3 }])) as never),
      () => call('barChart', lm.barChart, bar({ bars: [k.pick([
        { label: 3, value: 1 }, { value: 1 }, { label: 'a' }, { label: 'a', value: '1' }, { label: 'a', value: 1, error: '1' }, { label: 'a', value: 1, group: 3 }, { label: 'a', value: 1, [k.unknownKey()]: 1 },
      ])] }) as never),
      () => call('barChart', lm.barChart, bar({ bars: k.pick([[{ label: 'a', value: 1.7e308 }], [{ label: 'a', value: 1.7e308 }, { label: 'b', value: -1.7e308 }]]) }) as never),
      () => [...call('barChart', lm.barChart, bar({ bars: [{ label: 'a', value: NaN }, { label: 'b', value: 2, error: NaN }] }) as never), 'survives'],
    ];
  },

  // safetensors and checkpoints
  safetensors: (k) => {
    const valid = lm.encodeSafetensors({ w: { dtype: 'F32', shape: [2], bytes: new Uint8Array(8) } });
    const header = (h: string): Uint8Array => {
      const body = new TextEncoder().encode(h);
      const out = new Uint8Array(8 + body.length + 16);
      new DataView(out.buffer).setBigUint64(0, BigInt(body.length), true);
      out.set(body, 8);
      return out;
    };
    return [
      () => call('decodeSafetensors', lm.decodeSafetensors, Uint8Array.from({ length: k.int(0, 40) }, () => k.int(0, 256))),
      () => call('decodeSafetensors', lm.decodeSafetensors, valid.slice(0, k.int(0, valid.length - 1))),
      () => call('decodeSafetensors', lm.decodeSafetensors, k.pick([
        header('{"w":{"dtype":"F32","shape":[5],"data_offsets":[0,16]}}'), header('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,999999]}}'),
        header('{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}'), header('{"w":{"dtype":"XX","shape":[2],"data_offsets":[0,8]}}'),
        header('{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}'), header('{"w":{"dtype":"F32","shape":[1e300],"data_offsets":[0,8]}}'),
        header('{"w":{"dtype":"F32","shape":"x","data_offsets":[0,8]}}'), header('{"w":3}'), header('[1,2]'), header('{"__metadata__":{"a":3}}'),
        header('{"w":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}'), header('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"v":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'),
        header('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0.5,8.5]}}'), header('not json'),
      ])),
      () => {
        const b = valid.slice();
        new DataView(b.buffer).setBigUint64(0, k.pick([2n ** 63n, 2n ** 40n, 2n ** 53n + 1n, 0n, BigInt(b.length)]), true);
        return call('decodeSafetensors', lm.decodeSafetensors, b);
      },
      () => call('decodeSafetensors', lm.decodeSafetensors, k.pick(['x', null, 3, [1, 2]]) as never),
      () => call('encodeSafetensors', lm.encodeSafetensors, k.pick([{ w: { dtype: 'F32', shape: [2], bytes: new Uint8Array(3) } }, { w: null }, { w: { dtype: 'XX', shape: [1], bytes: new Uint8Array(4) } }, { w: { dtype: 'F32', shape: [-1], bytes: new Uint8Array(4) } }, null]) as never),
      () => call('encodeSafetensors', lm.encodeSafetensors, {}, k.pick([{ a: 3 }, 'x', { a: null }]) as never),
      () => call('readSafetensors', lm.readSafetensors, k.pick([k.scratch('nope.safetensors'), k.scratch('garbage.safetensors'), scratchDir(), k.scratch('file.txt')])),
      () => call('writeSafetensorsFile', lm.writeSafetensorsFile, join(k.scratch('file.txt'), 'below.safetensors'), {}),
      () => call('toSafeTensor', lm.toSafeTensor, k.pick([k.disposed(), k.notTensor()]) as never),
      () => call('fromSafeTensor', lm.fromSafeTensor, k.pick([
        { dtype: 'F32', shape: [3], bytes: new Uint8Array(4) }, { dtype: 'U64', shape: [1], bytes: new Uint8Array(8) }, { dtype: 'F32', shape: [-1], bytes: new Uint8Array(4) },
        { dtype: 'XX', shape: [1], bytes: new Uint8Array(4) }, null, { dtype: 'F32', shape: [1], bytes: 'abcd' }, { dtype: 'F32', shape: [2 ** 47], bytes: new Uint8Array(4) },
      ]) as never),
    ];
  },
  checkpoints: (k) => [
    () => call('checkpointName', lm.checkpointName, k.pick([-1, 1.5, NaN, '1', null, Infinity])),
    () => call('loadCheckpoint', lm.loadCheckpoint, k.pick([k.scratch('nope'), scratchDir(), k.scratch('file.txt'), '', 3]) as never),
    () => call('resolveCheckpoint', lm.resolveCheckpoint, k.pick([k.scratch('nope'), scratchDir(), k.scratch('file.txt'), 3]) as never),
    () => call('loadModel', lm.loadModel, k.pick([k.scratch('nope'), scratchDir(), k.scratch('file.txt')])),
    () => call('cleanStaleTemporaries', lm.cleanStaleTemporaries, k.pick([k.scratch('file.txt'), 3, null]) as never),
    () => call('nonFiniteWeights', lm.nonFiniteWeights, k.pick([null, 3, {}]) as never),
    () => call('saveCheckpoint', lm.saveCheckpoint, join(k.scratch('file.txt'), 'ck'), { model: smallModel(k), state: { format: 'lmforge-checkpoint', version: 1, step: 1, tokens: 1, elapsed: 0, rng: { seed: 0, offset: 0 }, sampler: { kind: 'random', position: 0, seed: 0 } } } as never),
    () => call('saveCheckpoint', lm.saveCheckpoint, k.scratch(`ck-${k.int(0, 1e9)}`), k.pick([null, {}, { model: 3 }, { model: smallModel(k) }, { model: smallModel(k), state: { step: -1 } }]) as never),
    () => call('estimateTrainingMemory', lm.estimateTrainingMemory, { vocabSize: 11, seqLen: 8, layers: 1, dim: 8, heads: 2 }, k.pick([{ batchSize: -1, optimizerBytesPerParam: 8 }, { batchSize: 1.5, optimizerBytesPerParam: 8 }, { batchSize: 2, optimizerBytesPerParam: NaN }, { batchSize: 2 }, null]) as never),
    () => call('estimateTrainingMemory', lm.estimateTrainingMemory, k.pick([null, {}, { vocabSize: -1 }]) as never, { batchSize: 2, optimizerBytesPerParam: 8 }),
    () => call('new Trainer', (o: unknown) => new lm.Trainer(o as never), k.pick([null, {}, { model: 3 }, { model: smallModel(k), optimizer: null }])),
    () => call('evaluate', lm.evaluate, smallModel(k), k.pick([null, 3, {}]) as never),
    () => call('runFootprint', lm.runFootprint, k.pick([null, 3, {}]) as never, new lm.SGD([trainedParam(k)])),
    () => call('runFootprint', lm.runFootprint, smallModel(k), k.pick([null, 3, {}, { stateBytes: () => 0 }]) as never),
    () => call('runFootprint', lm.runFootprint, smallModel(k), new lm.SGD([trainedParam(k)]), k.pick([-1, NaN, Infinity, '8', null])),
  ],
  distributed: (k) => {
    // The identity communicator (one process): collectives check their arguments as under MPI.
    const comm = lm.initDistributed({ backend: 'identity' });
    const one = k.pick(['allReduce', 'allReduceAsync', 'broadcast'] as const);
    const two = k.pick(['reduceScatter', 'allGather'] as const);
    const bad = (): unknown => k.pick([k.disposed(), k.notTensor(), k.t([3, 4]).transpose(0, 1), k.t([3], k.pick(['bfloat16', 'float16', 'uint8', 'int8'] as const))]);
    return [
      () => call('initDistributed', lm.initDistributed, k.pick([{ backend: 'gloo' }, { timeoutMs: -1 }, { timeoutMs: 1.5 }, { timeoutMs: NaN }, { [k.unknownKey()]: 1 }, 'mpi', 3, { backend: 'mpi' }]) as never),
      () => call(`comm.${one}`, (t: Tensor) => comm[one](t), bad()),
      () => call(`comm.${one}`, (t: Tensor, o: unknown) => (one === 'broadcast' ? comm.broadcast(t, o as number) : comm[one](t, o as 'sum')), k.t([3]), k.pick(['min', 'SUM', 1, 1.5, -1, null, {}])),
      () => call(`comm.${two}`, (a: Tensor, b: Tensor) => comm[two](a, b), k.pick([bad(), k.t([4])]), k.pick([bad(), k.t([3]), k.t([3], 'float64')])),
    ];
  },
};

export const ENTRY_NAMES = Object.keys(ENTRIES);

/** Malformed case i of the run with base seed `base`: the same case in every process. */
export function malformedCase(i: number, base: number): BadCase {
  const r = new Rng(`fuzz malformed ${i}`, base);
  const entry = ENTRY_NAMES[r.int(0, ENTRY_NAMES.length)]!;
  const k = new Kit(r);
  let what = `${entry} (building the case)`;
  try {
    const variants = ENTRIES[entry]!(k);
    const [w, run, expect] = variants[r.int(0, variants.length)]!();
    what = w;
    return { entry, what, expect: expect ?? 'throws', run };
  } catch (e) {
    // Building a case makes only valid objects, so a failure here is a finding too: reported as untyped.
    const err = new Error(`building the case failed: ${(e as Error)?.constructor?.name}: ${(e as Error)?.message ?? String(e)}`);
    return { entry, what, expect: 'throws', run: () => { throw err; } };
  }
}
