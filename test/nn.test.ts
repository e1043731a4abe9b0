import { describe, expect, it } from 'vitest';

import {
  cudaAvailable, DeviceError, DTypeError, gradcheck, memory, noGrad, ShapeError, tensor, tidy, ValueError, type Tensor,
} from '../lib/index.js';
import {
  Block, CausalSelfAttention, Dropout, Embedding, GPT, LayerNorm, Linear, MLP, MLP_ACTIVATIONS, Module, ModuleList, RMSNorm,
  type GPTConfig, type MLPActivation,
} from '../lib/nn/index.js';
import { rmsNorm } from '../lib/ops/norm.js';
import { assertClose, assertEqual, assertThrows, type Tol } from './reference/check.js';
import { REF_ACT, refGated, refLayerNorm, refLinear, refSelfAttention } from './reference/layers.js';
import { nd, type NdArray } from './reference/ndarray.js';
import { Rng } from './reference/prng.js';
import { describeDevices } from './devices.js';

const F64: Tol = { rtol: 1e-10, atol: 1e-12 };

function f64(t: Tensor): Float64Array {
  return Float64Array.from(t.dataSync() as ArrayLike<number>);
}
function ndOf(t: Tensor): NdArray {
  return nd(t.shape as number[], f64(t));
}
function input(rng: Rng, shape: number[], dtype: 'float64' | 'float32' = 'float64'): Tensor {
  return tensor(rng.array(shape.reduce((a, b) => a * b, 1), -1.5, 1.5), shape, dtype);
}
// Parameters drawn afresh (not the init values: biases start at zero, norms at one), so every term is exercised.
function randomize(m: Module, rng: Rng, scale = 0.4): void {
  const state: Record<string, Tensor> = {};
  for (const [n, p] of m.namedParameters()) state[n] = tensor(rng.array(p.size, -scale, scale), p.shape as number[], p.dtype);
  m.loadStateDict(state);
}

/** gradcheck of a module's output with respect to its input (when given) and every parameter. */
function checkModule(m: Module, x: Tensor | null, f: (x: Tensor | null) => Tensor): void {
  const named = m.namedParameters();
  const params = named.map(([, p]) => p.detach().setRequiresGrad());
  const inputs = x ? [x.setRequiresGrad(), ...params] : params;
  const off = x ? 1 : 0;
  const r = gradcheck(
    (...xs) => m.withParameters(Object.fromEntries(named.map(([n], i) => [n, xs[i + off]!])), () => f(x ? xs[0]! : null)),
    inputs,
  );
  expect(r.failures).toEqual([]);
}

class Pair extends Module {
  readonly a: Linear;
  readonly list: ModuleList<Linear>;
  constructor(shared?: Linear) {
    super();
    this.registerParameter('scale', tensor([1, 2, 3]));
    this.a = this.registerModule('a', shared ?? new Linear(3, 4, { seed: 1 }));
    this.list = this.registerModule('list', new ModuleList([new Linear(4, 2, { bias: false, seed: 2 }), this.a]));
  }
}

describe('Module', () => {
  it('names parameters with dots, lists shared tensors once, and counts them', () => {
    const m = new Pair();
    expect(m.namedParameters().map(([n]) => n)).toEqual(['scale', 'a.weight', 'a.bias', 'list.0.weight']);
    expect(m.parameters().every((p) => p.requiresGrad && p.isLeaf)).toBe(true);
    expect(m.numParameters()).toBe(3 + 12 + 4 + 8);
    expect(m.namedChildren().map(([n]) => n)).toEqual(['a', 'list']);
    expect(m.namedModules().map(([n]) => n)).toEqual(['', 'a', 'list', 'list.0', 'list.1']);
    expect(m.list.length).toBe(2);
    expect(m.list.at(-1)).toBe(m.a);
    assertThrows(() => m.list.at(2), ValueError, 'ModuleList.at', 'index 2');
  });

  it('train() and eval() recurse; zeroGrad drops every gradient', () => {
    const m = new Pair();
    m.eval();
    expect(m.namedModules().every(([, c]) => !c.training)).toBe(true);
    m.train();
    expect(m.list.at(0).training).toBe(true);
    tidy(() => m.list.at(0).forward(m.a.forward(tensor([[1, 2, 3]]))).sum().backward());
    expect(m.a.weight.grad).not.toBeNull();
    m.zeroGrad();
    expect(m.parameters().every((p) => p.grad === null)).toBe(true);
  });

  it('stateDict is a snapshot; loadStateDict copies in place and checks keys, shapes and dtypes first', () => {
    const m = new Pair();
    const state = m.stateDict();
    expect(Object.keys(state)).toEqual(['scale', 'a.weight', 'a.bias', 'list.0.weight']);
    expect(state['a.weight']!.sharesStorageWith(m.a.weight)).toBe(false);
    expect(state['a.weight']!.requiresGrad).toBe(false);
    const other = new Pair(new Linear(3, 4, { seed: 99 }));
    const weightBefore = other.a.weight;
    other.loadStateDict(state);
    expect(other.a.weight).toBe(weightBefore); // same tensor, new values
    assertEqual(f64(other.a.weight), f64(m.a.weight));

    const { ['a.bias']: _dropped, ...missing } = state;
    assertThrows(() => other.loadStateDict(missing), ValueError, 'loadStateDict', 'missing keys: a.bias');
    assertThrows(() => other.loadStateDict({ ...state, 'a.gain': tensor([1]) }), ValueError, 'unexpected keys: a.gain');
    const snapshot = f64(other.a.weight);
    assertThrows(() => other.loadStateDict({ ...state, 'a.weight': tensor(new Float32Array(12).fill(7)), scale: tensor([1, 2]) }), ShapeError, "'scale' has shape [2]", '[3]');
    assertEqual(f64(other.a.weight), snapshot, 'nothing written when a check fails');
    assertThrows(() => other.loadStateDict({ ...state, scale: tensor([1, 2, 3], [3], 'float64') }), DTypeError, "'scale' is float64", 'float32');
    other.loadStateDict({ scale: tensor([5, 5, 5]) }, { strict: false });
    expect([...other.parameters()[0]!.dataSync()]).toEqual([5, 5, 5]);
  });

  it('survives the tidy() it was built in, moves between devices, and frees its tensors on dispose', () => {
    const before = memory().tensors;
    const m = tidy(() => new Pair());
    expect(m.a.weight.isDisposed).toBe(false);
    expect(m.to('cpu')).toBe(m);
    if (!cudaAvailable().available) assertThrows(() => m.to('cuda'), DeviceError);
    assertThrows(() => m.to('tpu' as 'cpu'), DeviceError, 'Module.to', '"tpu"');
    m.dispose();
    expect(m.a.weight.isDisposed).toBe(true);
    expect(memory().tensors).toBe(before);
  });

  it('withParameters substitutes tensors for a call and restores them', () => {
    const lin = new Linear(2, 1, { seed: 3 });
    const x = tensor([[1, 2]]);
    const w = tensor([[10, 20]]);
    const y = lin.withParameters({ weight: w }, () => lin.forward(x).item());
    expect(y).toBeCloseTo(50, 5);
    expect(lin.weight).not.toBe(w);
    assertThrows(() => lin.withParameters({ gain: w }, () => 0), ValueError, "no parameter named 'gain'");
    assertThrows(() => lin.withParameters({ weight: tensor([1, 2]) }, () => 0), ShapeError, "'weight'", '[1, 2]');
  });
});

describeDevices('leaf modules against the references', () => {
  it('Linear: x·Wᵀ + b, with a fused residual; shape errors name the layer', () => {
    const rng = new Rng('linear');
    const lin = new Linear(7, 5, { dtype: 'float64', seed: 4 });
    randomize(lin, rng);
    const x = input(rng, [3, 2, 7]);
    const ref = refLinear(ndOf(x), ndOf(lin.weight), f64(lin.bias!));
    assertClose(f64(lin.forward(x)), ref.data, F64);
    const r = input(rng, [3, 2, 5]);
    assertClose(f64(lin.forward(x, r)), ref.data.map((v, i) => v + f64(r)[i]!), F64);
    expect(new Linear(3, 2, { bias: false }).bias).toBeNull();
    assertThrows(() => lin.forward(input(rng, [2, 6])), ShapeError, 'Linear', '[..., 7]', '[2, 6]');
    assertThrows(() => new Linear(0, 3), ShapeError, 'Linear', 'inFeatures', '0');
  });

  it('initialisation: seeded, with the requested spread', () => {
    const a = new Linear(64, 256, { std: 0.02, seed: 5 }), b = new Linear(64, 256, { std: 0.02, seed: 5 });
    assertEqual(f64(a.weight), f64(b.weight));
    const w = f64(a.weight);
    const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    expect(std).toBeGreaterThan(0.018);
    expect(std).toBeLessThan(0.022);
    const u = f64(new Linear(100, 50, { seed: 6 }).weight);
    expect(Math.max(...u.map(Math.abs))).toBeLessThanOrEqual(0.1);
    expect(f64(new Linear(3, 4).bias!).every((v) => v === 0)).toBe(true);
  });

  it('Embedding gathers rows', () => {
    const e = new Embedding(6, 4, { seed: 7 });
    const idx = tensor(new Int32Array([5, 0, 5]), [1, 3]);
    const y = e.forward(idx);
    expect(y.shape).toEqual([1, 3, 4]);
    const w = f64(e.weight);
    assertEqual(f64(y), [...w.slice(20, 24), ...w.slice(0, 4), ...w.slice(20, 24)]);
    assertThrows(() => e.forward(tensor(new Int32Array([6]))), ValueError, '6');
  });

  it('LayerNorm, RMSNorm and Dropout modules', () => {
    const rng = new Rng('norm modules');
    const x = input(rng, [2, 3, 9]);
    const ln = new LayerNorm(9, { dtype: 'float64' });
    randomize(ln, rng);
    assertClose(f64(ln.forward(x)), refLayerNorm(ndOf(x), f64(ln.weight), f64(ln.bias!), 1e-5).data, F64);
    expect(new LayerNorm(9, { bias: false }).numParameters()).toBe(9);
    const rms = new RMSNorm(9, { dtype: 'float64', eps: 1e-4 });
    randomize(rms, rng);
    assertEqual(f64(rms.forward(x)), f64(rmsNorm(x, rms.weight, 1e-4)));
    assertThrows(() => new RMSNorm(9, { eps: -1 }), ValueError, 'RMSNorm', 'eps', '-1');

    const d = new Dropout(0.5, { seed: 1 });
    const ones = tensor(new Float32Array(1000).fill(1));
    const y1 = f64(d.forward(ones)), y2 = f64(d.forward(ones));
    expect(y1).not.toEqual(y2); // a new mask per call
    expect(f64(new Dropout(0.5, { seed: 1 }).forward(ones))).toEqual(y1); // reproducible by seed
    d.eval();
    expect(d.forward(ones)).toBe(ones);
    assertThrows(() => new Dropout(1.5), ValueError, 'Dropout', '1.5');
  });
});

describe('CausalSelfAttention', () => {
  const cases: ['rope' | 'alibi' | 'none', number, number, 'half' | 'interleaved'][] = [
    ['rope', 6, 2, 'half'],
    ['rope', 6, 3, 'interleaved'],
    ['alibi', 6, 6, 'half'],
    ['alibi', 6, 3, 'half'],
    ['none', 6, 1, 'half'],
  ];
  it.each(cases)('matches the float64 reference (%s, heads %i, kvHeads %i, %s pairing, T = 13)', (position, heads, kvHeads, ropePairing) => {
    const rng = new Rng(`csa ${position} ${kvHeads}`);
    const m = new CausalSelfAttention({ dim: 24, heads, kvHeads, position, ropePairing, ropeBase: 300, dtype: 'float64', seed: 3 });
    randomize(m, rng);
    const x = input(rng, [2, 13, 24]);
    const ref = refSelfAttention(
      ndOf(x),
      { wqkv: ndOf(m.qkv.weight), bqkv: f64(m.qkv.bias!), wproj: ndOf(m.proj.weight), bproj: f64(m.proj.bias!) },
      { heads, kvHeads, position, ropeBase: 300, ropePairing },
    );
    assertClose(f64(m.forward(x)), ref.data, F64);
    expect(m.qkv.weight.shape).toEqual([(heads + 2 * kvHeads) * 4, 24]);
  });

  it('a KV cache filled in chunks gives the same outputs as one pass', () => {
    for (const position of ['rope', 'alibi', 'none'] as const) {
      const rng = new Rng(`csa cache ${position}`);
      const m = new CausalSelfAttention({ dim: 24, heads: 6, kvHeads: 2, position, dtype: 'float64', seed: 8 });
      randomize(m, rng);
      const x = input(rng, [2, 11, 24]);
      const full = f64(m.forward(x));
      const cache = m.createCache(2, 16);
      const parts = noGrad(() => [[0, 4], [4, 5], [5, 11]].map(([a, b]) => f64(m.forward(x.slice(1, a!, b!), { cache }))));
      expect(cache.length).toBe(11);
      const joined = new Float64Array(full.length);
      // parts are [2, len, 24] each: interleave back into [2, 11, 24]
      let t0 = 0;
      for (const [i, [a, b]] of [[0, 4], [4, 5], [5, 11]].entries()) {
        const len = b! - a!;
        for (let bb = 0; bb < 2; bb++) joined.set(parts[i]!.subarray(bb * len * 24, (bb + 1) * len * 24), (bb * 11 + t0) * 24);
        t0 += len;
      }
      assertClose(joined, full, F64, position);
      assertThrows(() => noGrad(() => m.forward(x.slice(1, 0, 6), { cache })), ShapeError, 'KVCache', 'capacity 16');
      cache.dispose();
    }
  });

  it('rejects bad head layouts and inputs', () => {
    assertThrows(() => new CausalSelfAttention({ dim: 20, heads: 6 }), ValueError, 'dim 20 is not divisible by heads 6');
    assertThrows(() => new CausalSelfAttention({ dim: 24, heads: 6, kvHeads: 4 }), ValueError, 'kvHeads 4 does not divide heads 6');
    assertThrows(() => new CausalSelfAttention({ dim: 18, heads: 6, position: 'rope' }), ValueError, 'even head dimension', '3');
    assertThrows(() => new CausalSelfAttention({ dim: 8, heads: 2, position: 'sine' as 'none' }), ValueError, '"sine"');
    const m = new CausalSelfAttention({ dim: 8, heads: 2 });
    assertThrows(() => m.forward(tensor(new Float32Array(12), [1, 2, 6])), ShapeError, 'CausalSelfAttention', '[B, T, 8]', '[1, 2, 6]');
  });
});

describeDevices('MLP and Block', (device) => {
  it.each(MLP_ACTIVATIONS)('MLP with %s matches the reference', (act) => {
    const rng = new Rng(`mlp ${act}`);
    const m = new MLP({ dim: 10, hidden: 7, activation: act, dtype: 'float64', seed: 2 });
    randomize(m, rng);
    const x = input(rng, [2, 5, 10]);
    const h = refLinear(ndOf(x), ndOf(m.fc.weight), f64(m.fc.bias!));
    const gated = ['glu', 'geglu', 'swiglu', 'reglu'].includes(act);
    expect(m.fc.weight.shape).toEqual([gated ? 14 : 7, 10]);
    const a = gated ? refGated(h, act as 'glu') : nd(h.shape, h.data.map(REF_ACT[act]!));
    const ref = refLinear(a, ndOf(m.proj.weight), f64(m.proj.bias!));
    assertClose(f64(m.forward(x)), ref.data, F64, act);
    assertThrows(() => new MLP({ dim: 4, hidden: 4, activation: 'mish' as MLPActivation }), ValueError, 'MLP', '"mish"');
  });

  // float64 attention runs on the CPU only: the CUDA attention kernels refuse float64 (part 2 tests them).
  it.skipIf(device === 'cuda')('Block is x + attn(norm1(x)), then + mlp(norm2(·)), with or without the fused residual', () => {
    const rng = new Rng('block');
    for (const norm of ['layernorm', 'rmsnorm'] as const) {
      const b = new Block({ dim: 12, heads: 3, position: 'rope', activation: 'swiglu', mlpHidden: 16, norm, dtype: 'float64', seed: 1 });
      randomize(b, rng);
      const x = input(rng, [2, 7, 12]);
      const h = x.add(b.attn.forward(b.norm1.forward(x)));
      const expected = h.add(b.mlp.forward(b.norm2.forward(h)));
      assertClose(f64(b.forward(x)), f64(expected), F64, norm);
    }
    // with dropout active the unfused path runs; in eval mode it is the identity on the branches
    const d = new Block({ dim: 12, heads: 3, activation: 'gelu', mlpHidden: 16, dropout: 0.3, dtype: 'float64', seed: 2 });
    const x = input(rng, [1, 5, 12]);
    const trainOut = f64(d.forward(x));
    d.eval();
    const evalOut = f64(d.forward(x));
    expect(trainOut).not.toEqual(evalOut);
    const h = x.add(d.attn.forward(d.norm1.forward(x)));
    assertClose(evalOut, f64(h.add(d.mlp.forward(d.norm2.forward(h)))), F64);
  });
});

describeDevices('gradcheck of every module (float64)', (device) => {
  const rng = new Rng('module gradcheck');
  it('Linear, Embedding, LayerNorm, RMSNorm, Dropout', () => {
    const lin = new Linear(5, 3, { dtype: 'float64', seed: 1 });
    randomize(lin, rng);
    checkModule(lin, input(rng, [2, 4, 5]), (x) => lin.forward(x!));
    checkModule(lin, input(rng, [4, 5]), (x) => lin.forward(x!, x!.slice(1, 0, 3)));
    const emb = new Embedding(7, 3, { dtype: 'float64', seed: 2 });
    const idx = tensor(new Int32Array([1, 6, 1, 0]), [2, 2]);
    checkModule(emb, null, () => emb.forward(idx).tanh());
    const ln = new LayerNorm(6, { dtype: 'float64' });
    randomize(ln, rng);
    checkModule(ln, input(rng, [3, 6]), (x) => ln.forward(x!));
    const rms = new RMSNorm(6, { dtype: 'float64' });
    randomize(rms, rng);
    checkModule(rms, input(rng, [3, 6]), (x) => rms.forward(x!));
    // Dropout draws a new mask per call, so each evaluation gets a fresh module with the same seed
    const r = gradcheck((x) => new Dropout(0.4, { seed: 3 }).forward(x), [input(rng, [5, 6]).setRequiresGrad()]);
    expect(r.failures).toEqual([]);
  });

  (device === 'cuda' ? it.skip : it).each([['rope', 6, 2, 'half'], ['rope', 3, 1, 'interleaved'], ['alibi', 6, 3, 'half'], ['none', 4, 1, 'half']] as const)(
    'CausalSelfAttention (%s, heads %i, kvHeads %i, %s)', (position, heads, kvHeads, ropePairing) => {
      const m = new CausalSelfAttention({ dim: 12, heads, kvHeads, position, ropePairing, dtype: 'float64', seed: 4 });
      randomize(m, rng);
      checkModule(m, input(rng, [2, 5, 12]), (x) => m.forward(x!));
    },
  );

  it.each(MLP_ACTIVATIONS)('MLP (%s)', (act) => {
    const m = new MLP({ dim: 4, hidden: 5, activation: act, dtype: 'float64', seed: 5 });
    randomize(m, rng);
    checkModule(m, input(rng, [2, 3, 4]), (x) => m.forward(x!));
  });

  // float64 attention runs on the CPU only: the CUDA attention kernels refuse float64 (part 2 tests them).
  it.skipIf(device === 'cuda')('Block (rmsnorm, GQA, rope, swiglu) and (layernorm, alibi, gelu)', () => {
    const a = new Block({ dim: 8, heads: 4, kvHeads: 2, position: 'rope', activation: 'swiglu', mlpHidden: 6, norm: 'rmsnorm', dtype: 'float64', seed: 6 });
    randomize(a, rng);
    checkModule(a, input(rng, [2, 4, 8]), (x) => a.forward(x!));
    const b = new Block({ dim: 8, heads: 2, position: 'alibi', activation: 'gelu', mlpHidden: 6, norm: 'layernorm', dtype: 'float64', seed: 7 });
    randomize(b, rng);
    checkModule(b, input(rng, [1, 5, 8]), (x) => b.forward(x!));
  });

  it.each(['rope', 'alibi', 'learned', 'none'] as const)('GPT (%s): the loss with respect to every parameter', (position) => {
    const config: GPTConfig = {
      vocabSize: 11, seqLen: 6, layers: 2, dim: 8, heads: 2, kvHeads: 1, position, activation: position === 'rope' ? 'geglu' : 'relu',
      norm: position === 'alibi' ? 'rmsnorm' : 'layernorm', tieEmbeddings: position !== 'none', dtype: 'float64', seed: 9,
    };
    const m = new GPT(config);
    randomize(m, rng, 0.5);
    const tokens = tensor(new Int32Array([1, 4, 9, 0, 10, 3, 5, 5, 2, 7]), [2, 5]);
    const targets = tensor(new Int32Array([4, 9, 0, 10, 3, 5, 2, 7, 7, 1]), [2, 5]);
    checkModule(m, null, () => m.forward(tokens, targets).loss!);
  });
});
