/**
 * Malformed options and arguments of the nn modules (issue 14): an unknown option key (a typo) is refused
 * with the closest known key, a value of the wrong type or out of range is refused by the module that
 * was given it (not by an op deep inside, and not silently used), and an argument that is not a tensor or
 * not an object gets an lmforge error naming the module instead of a raw TypeError. The fuzz test
 * (test/fuzz.test.ts) covers these entry points at random; this file pins one representative call each.
 */
import { describe, expect, it } from 'vitest';

import * as lm from '../lib/index.js';
import { ArgumentTypeError, DeviceError, DTypeError, ShapeError, ValueError } from '../lib/index.js';
import { assertThrows } from './reference/check.js';

const attnOk = { dim: 8, heads: 2, seed: 1 };
const mlpOk = { dim: 4, hidden: 6, activation: 'gelu' as const, seed: 1 };
const blockOk = { dim: 8, heads: 2, activation: 'gelu' as const, mlpHidden: 12, seed: 1 };

describe('unknown option keys are refused, with the closest known key', () => {
  it('module constructors', () => {
    assertThrows(() => new lm.Linear(3, 4, { biass: false } as never), ValueError, 'Linear: ', "unknown option 'biass'", "did you mean 'bias'?");
    assertThrows(() => new lm.Embedding(7, 3, { stdd: 1 } as never), ValueError, 'Embedding: ', "unknown option 'stdd'", "did you mean 'std'?");
    assertThrows(() => new lm.LayerNorm(5, { epss: 1e-5 } as never), ValueError, 'LayerNorm: ', "did you mean 'eps'?");
    // RMSNorm has no bias, and nothing close to it: the message lists what there is.
    assertThrows(() => new lm.RMSNorm(5, { bias: false } as never), ValueError, 'RMSNorm: ', "unknown option 'bias'", 'expected one of: eps, dtype, device');
    assertThrows(() => new lm.Dropout(0.1, { seeds: 1 } as never), ValueError, 'Dropout: ', "did you mean 'seed'?");
    assertThrows(() => new lm.MLP({ ...mlpOk, activaton: 'relu' } as never), ValueError, 'MLP: ', "unknown option 'activaton'", "did you mean 'activation'?");
    assertThrows(() => new lm.CausalSelfAttention({ ...attnOk, kvheads: 1 } as never), ValueError, 'CausalSelfAttention: ', "did you mean 'kvHeads'?");
    assertThrows(() => new lm.Block({ ...blockOk, mlp_hidden: 12 } as never), ValueError, 'Block: ', "did you mean 'mlpHidden'?");
    assertThrows(() => new lm.KVCache(1, 2, 4, 4, { dtpye: 'float32' } as never), ValueError, 'KVCache: ', "did you mean 'dtype'?");
    assertThrows(() => lm.makeNorm('layernorm', 5, { biass: true } as never), ValueError, 'makeNorm: ', "did you mean 'bias'?");
  });

  it('forward options, initNormal and loadStateDict', () => {
    const attn = new lm.CausalSelfAttention(attnOk);
    const x = lm.randn([1, 3, 8], { seed: 2 });
    assertThrows(() => attn.forward(x, { residul: x } as never), ValueError, 'CausalSelfAttention: ', "did you mean 'residual'?");
    assertThrows(() => new lm.Block(blockOk).forward(x, { cach: null } as never), ValueError, 'Block: ', "did you mean 'cache'?");
    assertThrows(() => lm.initNormal([2, 3], 0.02, { seeds: 1 } as never), ValueError, 'initNormal: ', "did you mean 'seed'?");
    const m = new lm.Linear(3, 2, { seed: 1 });
    assertThrows(() => m.loadStateDict(m.stateDict(), { strcit: false } as never), ValueError, 'loadStateDict: ', "did you mean 'strict'?");
  });

  it('the GPT config and the ops say "did you mean" too (one checker)', () => {
    const cfg = { vocabSize: 11, seqLen: 8, layers: 1, dim: 8, heads: 2, seed: 1 };
    assertThrows(() => lm.resolveGPTConfig({ ...cfg, kvheads: 2 } as never), ValueError, 'GPTConfig: ', "unknown option 'kvheads'", "did you mean 'kvHeads'?");
    assertThrows(() => lm.zeros([2], { dtyp: 'float32' } as never), ValueError, 'zeros: ', "did you mean 'dtype'?");
  });
});

describe('option values are checked by the module that takes them', () => {
  it('a non-boolean bias is refused', () => {
    assertThrows(() => new lm.Linear(3, 4, { bias: 'yes' } as never), ValueError, 'Linear: ', 'bias must be a boolean', '"yes"');
    assertThrows(() => new lm.Linear(3, 4, { bias: 0 } as never), ValueError, 'Linear: ', 'bias must be a boolean', 'got 0');
    assertThrows(() => new lm.LayerNorm(5, { bias: 1 } as never), ValueError, 'LayerNorm: ', 'bias must be a boolean');
    assertThrows(() => new lm.MLP({ ...mlpOk, bias: 'false' } as never), ValueError, 'MLP: ', 'bias');
  });

  it("Dropout's seed is checked at construction, not at the first training forward", () => {
    assertThrows(() => new lm.Dropout(0.1, { seed: -1 }), ValueError, 'Dropout: ', 'seed', '-1');
    assertThrows(() => new lm.Dropout(0.1, { seed: 1.5 }), ValueError, 'Dropout: ', 'seed', '1.5');
    assertThrows(() => new lm.Dropout(0.1, { seed: '1' } as never), ValueError, 'Dropout: ', 'seed', '"1"');
  });

  it("CausalSelfAttention's ropeBase and ropePairing", () => {
    assertThrows(() => new lm.CausalSelfAttention({ ...attnOk, position: 'rope', ropeBase: 0 }), ValueError, 'CausalSelfAttention: ', 'ropeBase', 'got 0');
    assertThrows(() => new lm.CausalSelfAttention({ ...attnOk, ropeBase: '1e4' } as never), ValueError, 'CausalSelfAttention: ', 'ropeBase', '"1e4"');
    assertThrows(() => new lm.CausalSelfAttention({ ...attnOk, ropePairing: 'pairs' } as never), ValueError, 'CausalSelfAttention: ', 'ropePairing', '"pairs"');
  });

  it('dtype, device and std name the module, not the op that would have drawn the weights', () => {
    assertThrows(() => new lm.Linear(3, 4, { dtype: 'int32' } as never), DTypeError, 'Linear: ', 'int32');
    assertThrows(() => new lm.Linear(3, 4, { device: 'gpu' } as never), DeviceError, 'Linear: ', '"gpu"');
    assertThrows(() => new lm.Embedding(7, 3, { std: '0.02' } as never), ValueError, 'Embedding: ', 'std', '"0.02"');
    assertThrows(() => new lm.MLP({ ...mlpOk, projStd: -1 }), ValueError, 'MLP: ', 'projStd', '-1');
    assertThrows(() => lm.initNormal([2], 0.1, { dtype: 'int32' } as never), DTypeError, 'initNormal: ', 'int32');
  });

  it('a KVCache holds floating-point keys and values', () => {
    assertThrows(() => new lm.KVCache(1, 2, 4, 4, { dtype: 'int32' } as never), DTypeError, 'KVCache: ', 'int32');
    assertThrows(() => new lm.KVCache(1.5, 2, 4, 4), ArgumentTypeError, 'KVCache: ', 'batch');
  });

  it('loadStateDict: an undefined entry is not skipped, and strict must be a boolean', () => {
    const m = new lm.Linear(3, 2, { seed: 1 });
    const before = m.weight.dataSync().slice();
    const bias = lm.tensor([5, 6]);
    assertThrows(() => m.loadStateDict({ weight: undefined, bias } as never), ArgumentTypeError, 'loadStateDict: ', "'weight' must be a Tensor", 'undefined');
    assertThrows(() => m.loadStateDict({ weight: undefined, bias } as never, { strict: false }), ArgumentTypeError, "'weight' must be a Tensor");
    expect(Array.from(m.bias!.dataSync())).toEqual([0, 0]); // nothing written
    assertThrows(() => m.loadStateDict(m.stateDict(), { strict: 'yes' } as never), ValueError, 'loadStateDict: ', 'strict must be a boolean', '"yes"');
    assertThrows(() => m.loadStateDict(m.stateDict(), { strict: 0 } as never), ValueError, 'strict must be a boolean');
    assertThrows(() => m.loadStateDict(3 as never), ArgumentTypeError, 'loadStateDict: ', 'number 3');
    expect(Array.from(m.weight.dataSync())).toEqual(Array.from(before));
  });

  it('options given as undefined or null take their defaults', () => {
    const a = new lm.Linear(3, 4, { bias: undefined, seed: 3, std: undefined } as never);
    expect(a.hasBias).toBe(true);
    const b = new lm.Linear(3, 4, { bias: null, seed: 3 } as never);
    expect(Array.from(b.weight.dataSync())).toEqual(Array.from(a.weight.dataSync()));
    expect(new lm.Dropout(0.1, { seed: undefined }).seed).toBeUndefined();
    expect(new lm.KVCache(1, 2, 4, 4, {}).k.dtype).toBe('float32');
  });
});

describe('arguments of the wrong JS type get an lmforge error naming the module', () => {
  it('forward of a non-tensor', () => {
    assertThrows(() => new lm.Linear(3, 4).forward(null as never), ArgumentTypeError, 'Linear: ', 'must be a Tensor, got null');
    assertThrows(() => new lm.MLP(mlpOk).forward('x' as never), ArgumentTypeError, 'MLP: ', 'must be a Tensor, got string x');
    assertThrows(() => new lm.CausalSelfAttention(attnOk).forward(3 as never), ArgumentTypeError, 'CausalSelfAttention: ', 'number 3');
    const x = lm.randn([1, 3, 8], { seed: 2 });
    assertThrows(() => new lm.CausalSelfAttention(attnOk).forward(x, { cache: {} } as never), ArgumentTypeError, 'CausalSelfAttention: ', 'cache must be a KVCache');
    assertThrows(() => new lm.CausalSelfAttention(attnOk).forward(x, 'opts' as never), ArgumentTypeError, 'CausalSelfAttention: ', 'options must be an object');
  });

  it('constructors given no options object', () => {
    assertThrows(() => new lm.MLP(null as never), ArgumentTypeError, 'MLP: ', 'options must be an object, got null');
    assertThrows(() => new lm.CausalSelfAttention(undefined as never), ArgumentTypeError, 'CausalSelfAttention: ', 'got undefined');
    assertThrows(() => new lm.Block(3 as never), ArgumentTypeError, 'Block: ', 'number 3');
    assertThrows(() => new lm.Linear(3, 4, [] as never), ArgumentTypeError, 'Linear: ', 'an array');
  });

  it('ModuleList of a non-iterable, KVCache.append of non-tensors', () => {
    assertThrows(() => new lm.ModuleList(3 as never), ArgumentTypeError, 'ModuleList: ', 'number 3');
    const cache = new lm.KVCache(1, 2, 4, 4);
    assertThrows(() => cache.append({} as never, {} as never), ArgumentTypeError, 'KVCache.append: ', 'k must be a Tensor');
    assertThrows(() => cache.append(lm.zeros([1, 2, 1, 4]), 'v' as never), ArgumentTypeError, 'KVCache.append: ', 'v must be a Tensor');
    assertThrows(() => cache.append(lm.zeros([1, 2, 1, 4]), lm.zeros([1, 2, 1, 3])), ShapeError, 'KVCache.append: ', '[1, 2, T, 4]', '[1, 2, 1, 3]');
    expect(cache.length).toBe(0);
  });
});

describe('trainBpe and splitDocuments refuse unknown options too', () => {
  it('a typo is refused with the closest key, not ignored', () => {
    assertThrows(() => lm.trainBpe(['some text here'], { vocabSize: 300, minFrequncy: 1 } as never), ValueError, 'trainBpe: ', "unknown option 'minFrequncy'", "did you mean 'minFrequency'?");
    assertThrows(() => lm.splitDocuments(10, { valFracton: 0.5 } as never), ValueError, 'splitDocuments: ', "did you mean 'valFraction'?");
    assertThrows(() => lm.splitDocuments(10, [] as never), ArgumentTypeError, 'splitDocuments: ', 'an array');
    expect(lm.splitDocuments(10, { valFraction: 0.5, seed: 3 }).val).toHaveLength(5);
  });
});
