/**
 * Malformed input to public entry points outside the ops (issue 14): each call must throw an lmforge error
 * class whose message names the public op and the offending value, instead of a raw TypeError, RangeError
 * or Node file-system error, or a silent wrong result (a wrapped token, a NaN, a bogus name). The fuzz test
 * (test/fuzz.test.ts) covers the rest of these entry points; this file pins one representative call each.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import * as lm from '../lib/index.js';
import { ArgumentTypeError, DTypeError, ValueError } from '../lib/index.js';
import { assertThrows } from './reference/check.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'lmf-inputs-'));
const smallConfig = { vocabSize: 11, seqLen: 8, layers: 1, dim: 8, heads: 2, seed: 1 };
const state = (step: number) => ({ format: 'lmforge-checkpoint' as const, version: 1 as const, step, tokens: 0, elapsed: 0, rng: { seed: 0, offset: 0 }, sampler: { kind: 'random' as const, position: 0, seed: 0 } });
const split = (n: number): lm.TokenSplit => ({ tokens: Uint16Array.from({ length: n }, (_, i) => i % 11), docLengths: [n - 1], bytes: n });

describe('scopes, grad mode and gradcheck take functions and tensors', () => {
  it('tidy, noGrad and enableGrad refuse a non-function', () => {
    assertThrows(() => lm.tidy(3 as never), ArgumentTypeError, 'tidy: ', /fn must be a function, got number 3/);
    assertThrows(() => lm.noGrad(null as never), ArgumentTypeError, 'noGrad: ', /fn must be a function, got null/);
    assertThrows(() => lm.enableGrad('fn' as never), ArgumentTypeError, 'enableGrad: ', /got string fn/);
  });

  it('keep refuses what is not a tensor', () => {
    assertThrows(() => lm.keep(5 as never), ArgumentTypeError, 'keep: ', /must be a Tensor, got number 5/);
    assertThrows(() => lm.keep({} as never), ArgumentTypeError, 'keep: ', /got Object/);
  });

  it('gradcheck refuses a non-function and inputs that are not an array of tensors', () => {
    const x = lm.tensor([1, 2], [2], 'float64').setRequiresGrad();
    assertThrows(() => lm.gradcheck(null as never, [x]), ArgumentTypeError, 'gradcheck: ', /fn must be a function, got null/);
    assertThrows(() => lm.gradcheck((a) => a, 3 as never), ArgumentTypeError, 'gradcheck: ', /inputs must be an array/);
    assertThrows(() => lm.gradcheck((a) => a, [x, 'y' as never]), ArgumentTypeError, 'gradcheck: ', /inputs\[1\] must be a Tensor/);
  });

  it('zerosLike, onesLike and sharesStorageWith refuse a non-tensor', () => {
    assertThrows(() => lm.zerosLike(null as never), ArgumentTypeError, 'zerosLike: ', /must be a Tensor, got null/);
    assertThrows(() => lm.onesLike(undefined as never), ArgumentTypeError, 'onesLike: ', /got undefined/);
    assertThrows(() => lm.tensor([1]).sharesStorageWith({} as never), ArgumentTypeError, 'sharesStorageWith: ', /other must be a Tensor/);
  });
});

describe('full() refuses values an integer dtype cannot hold, as tensor() does', () => {
  it('1.5, 300 in int8, 2^31 in int32', () => {
    assertThrows(() => lm.full([2], 1.5, { dtype: 'int32' }), ValueError, 'full: ', /value 1\.5 is not a int32/);
    assertThrows(() => lm.full([2], 300, { dtype: 'int8' }), ValueError, 'full: ', /value 300 is not a int8 \(integers in \[-128, 127\]\)/);
    assertThrows(() => lm.full([2], -1, { dtype: 'uint8' }), ValueError, 'full: ', /value -1 is not a uint8/);
    assertThrows(() => lm.full([2], 2 ** 31, { dtype: 'int32' }), ValueError, 'full: ', /2147483648/);
  });

  it('keeps the values that fit, and any number in a float dtype', () => {
    expect([...lm.full([2], 300, { dtype: 'int32' }).dataSync()]).toEqual([300, 300]);
    expect([...lm.full([1], -128, { dtype: 'int8' }).dataSync()]).toEqual([-128]);
    expect([...lm.full([1], 1.5).dataSync()]).toEqual([1.5]);
  });
});

describe('schedules and parameter groups', () => {
  it('refuse null options and a bad weight decay', () => {
    assertThrows(() => lm.warmupDecaySchedule(null as never), ArgumentTypeError, 'warmupDecaySchedule: ', /options must be an object, got null/);
    assertThrows(() => lm.inverseSqrtSchedule(undefined as never), ArgumentTypeError, 'inverseSqrtSchedule: ', /got undefined/);
    assertThrows(() => lm.paramGroups(null as never, { weightDecay: 0.1 }), ArgumentTypeError, 'paramGroups: ', /got null/);
    assertThrows(() => lm.paramGroups(3 as never, { weightDecay: 0.1 }), ArgumentTypeError, 'paramGroups: ', /got number 3/);
    assertThrows(() => lm.paramGroups({ w: lm.zeros([2, 2]) }, { weightDecay: NaN }), ValueError, 'paramGroups: ', /weightDecay must be a finite number >= 0, got NaN/);
  });
});

describe('safetensors helpers', () => {
  it('refuse what is not bytes, a SafeTensor or a tensor', () => {
    assertThrows(() => lm.decodeSafetensors(null as never), ArgumentTypeError, 'decodeSafetensors: ', /bytes must be a Uint8Array, got null/);
    assertThrows(() => lm.encodeSafetensors({ w: null } as never), ArgumentTypeError, 'encodeSafetensors: ', /tensor 'w' must be an object, got null/);
    assertThrows(() => lm.encodeSafetensors({}, 'x' as never), ArgumentTypeError, 'encodeSafetensors: ', /metadata must be an object, got string x/);
    assertThrows(() => lm.fromSafeTensor({ dtype: 'F32', shape: [1], bytes: 'abcd' } as never), ArgumentTypeError, 'fromSafeTensor: ', /bytes must be a Uint8Array/);
    assertThrows(() => lm.fromSafeTensor({ dtype: 'F32', shape: [3], bytes: new Uint8Array(4) }), ValueError, 'fromSafeTensor: ', /needs 12 bytes, got 4/);
    assertThrows(() => lm.encodeSafetensors({ w: { dtype: 'constructor', shape: [1], bytes: new Uint8Array(1) } } as never), DTypeError, 'encodeSafetensors: ', /unknown dtype "constructor"/);
    assertThrows(() => lm.toSafeTensor({ shape: [2], dtype: 'float32' } as never), ArgumentTypeError, 'toSafeTensor: ', /must be a Tensor, got Object/);
  });

  it('a file-system failure names the op and the path, not a raw ENOTDIR', () => {
    const file = join(tmp(), 'file.txt');
    writeFileSync(file, 'not a folder');
    const below = join(file, 'w.safetensors');
    assertThrows(() => lm.writeSafetensorsFile(below, {}), ValueError, 'writeSafetensorsFile: ', new RegExp(`cannot write '${below}': ENOTDIR`));
    const model = new lm.GPT(smallConfig);
    assertThrows(() => lm.saveCheckpoint(join(file, 'ck'), { model, state: state(1) }), ValueError, 'saveCheckpoint: ', /cannot write a checkpoint into '.*file\.txt\/ck': ENOTDIR/);
    assertThrows(() => lm.cleanStaleTemporaries(file), ValueError, 'cleanStaleTemporaries: ', /ENOTDIR/);
    expect(lm.cleanStaleTemporaries(join(tmp(), 'not-yet'))).toEqual([]);
  });
});

describe('checkpoints', () => {
  it('refuse a negative or fractional step before anything is written', () => {
    assertThrows(() => lm.checkpointName(1.5), ArgumentTypeError, 'checkpointName: ', /step must be an integer, got number 1\.5/);
    assertThrows(() => lm.checkpointName(-1), ValueError, 'checkpointName: ', /step must be an integer in \[0, \d+\], got -1/);
    const root = join(tmp(), 'ck');
    const model = new lm.GPT(smallConfig);
    assertThrows(() => lm.saveCheckpoint(root, { model, state: { step: -1 } as never }), ValueError, 'saveCheckpoint: ', /state\.step must be an integer in \[0, \d+\], got -1/);
    expect(existsSync(root)).toBe(false);
    assertThrows(() => lm.saveCheckpoint(root, { model: 3 } as never), ArgumentTypeError, 'saveCheckpoint: ', /model must be a Module, got number 3/);
    assertThrows(() => lm.saveCheckpoint(root, { model } as never), ArgumentTypeError, 'saveCheckpoint: ', /state must be an object, got undefined/);
    expect(lm.checkpointName(12)).toBe('step-00000012');
  });

  it('nonFiniteWeights, evaluate, Trainer and estimateTrainingMemory check the objects they are given', () => {
    const model = new lm.GPT(smallConfig);
    assertThrows(() => lm.nonFiniteWeights({} as never), ArgumentTypeError, 'nonFiniteWeights: ', /model must be a Module, got Object/);
    assertThrows(() => lm.evaluate(model, {} as never), ArgumentTypeError, 'evaluate: ', /split\.tokens must be a Uint16Array or Uint32Array, got undefined/);
    assertThrows(() => lm.evaluate(model, null as never), ArgumentTypeError, 'evaluate: ', /split must be an object, got null/);
    assertThrows(() => new lm.Trainer({} as never), ArgumentTypeError, 'Trainer: ', /model must be a GPT, got undefined/);
    assertThrows(() => new lm.Trainer({ model, optimizer: null } as never), ArgumentTypeError, 'Trainer: ', /optimizer must be an Optimizer, got null/);
    const optimizer = new lm.SGD(model.parameters(), { lr: 0.1 });
    assertThrows(() => new lm.Trainer({ model, optimizer, data: { train: split(40) } } as never), ArgumentTypeError, 'Trainer: ', /data\.val must be an object, got undefined/);
    assertThrows(() => lm.estimateTrainingMemory(smallConfig, null as never), ArgumentTypeError, 'estimateTrainingMemory: ', /options must be an object, got null/);
    assertThrows(() => lm.estimateTrainingMemory(smallConfig, { batchSize: 2 } as never), ArgumentTypeError, 'estimateTrainingMemory: ', /optimizerBytesPerParam must be a number, got undefined/);
    assertThrows(() => lm.estimateTrainingMemory(smallConfig, { batchSize: 1.5, optimizerBytesPerParam: 8 }), ArgumentTypeError, 'estimateTrainingMemory: ', /batchSize must be an integer/);
    assertThrows(() => lm.gnbHessian([3 as never], () => lm.zeros([2, 3])), ArgumentTypeError, 'gnbHessian: ', /params\[0\] must be a Tensor, got number 3/);
    assertThrows(() => lm.gnbHessian([], null as never), ArgumentTypeError, 'gnbHessian: ', /forward must be a function, got null/);
    expect(lm.evaluate(model, split(40), { batchSize: 2 }).tokens).toBeGreaterThan(0);
  });
});

describe('tokenizer and data helpers', () => {
  it('refuse arguments of the wrong type', () => {
    assertThrows(() => lm.pretokenize(null as never), ArgumentTypeError, 'pretokenize: ', /text must be a string, got null/);
    assertThrows(() => lm.wtf8Encode(3 as never), ArgumentTypeError, 'wtf8Encode: ', /got number 3/);
    assertThrows(() => lm.wtf8Decode([1, 2] as never), ArgumentTypeError, 'wtf8Decode: ', /bytes must be a Uint8Array, got an array/);
    assertThrows(() => lm.stripBrownTags(undefined as never), ArgumentTypeError, 'stripBrownTags: ', /got undefined/);
    assertThrows(() => lm.unigramWords(3 as never), ArgumentTypeError, 'unigramWords: ', /got number 3/);
    assertThrows(() => lm.tokenizerFromSpec(null as never), ArgumentTypeError, 'tokenizerFromSpec: ', /spec must be an object, got null/);
    assertThrows(() => new lm.ByteTokenizer().decodeSync(3 as never), ArgumentTypeError, 'ByteTokenizer.decode: ', /ids must be an array or typed array/);
    assertThrows(() => lm.tokensPerByte(null as never), ArgumentTypeError, 'tokensPerByte: ', /split must be an object, got null/);
    assertThrows(() => lm.dataStats(['a'] as never, 8), ArgumentTypeError, 'dataStats: ', /docLengths\[0\] must be an integer, got string a/);
    assertThrows(() => lm.dataStats([4, -5], 8), ValueError, 'dataStats: ', /docLengths\[1\] must be an integer >= 0, got -5/);
    assertThrows(() => lm.splitDocuments(1.5), ArgumentTypeError, 'splitDocuments: ', /n must be an integer, got number 1\.5/);
    assertThrows(() => new lm.RandomWindowSampler(null as never, 4), ArgumentTypeError, 'RandomWindowSampler: ', /tokens must be a Uint16Array or Uint32Array, got null/);
  });

  it('tokenizeDocuments rejects a document whose text is not a string', async () => {
    const p = lm.tokenizeDocuments([{ text: 3 }] as never, new lm.ByteTokenizer());
    await expect(p).rejects.toThrow(ArgumentTypeError);
    await expect(p).rejects.toThrow(/^tokenizeDocuments: docs\[0\]\.text must be a string, got number 3/);
  });

  it('packDocuments refuses an id beyond the vocabulary instead of storing it wrapped', () => {
    // uint16 storage would have kept 70000 as 4464, and an end token 10 with vocabSize 10 out of range
    assertThrows(() => lm.packDocuments([Int32Array.of(1, 70000)], 0, 10), ValueError, 'packDocuments: ', /docs\[0\]\[1\] = 70000 is outside the vocabulary \[0, 10\)/);
    assertThrows(() => lm.packDocuments([Int32Array.of(1, 2)], 10, 10), ValueError, 'packDocuments: ', /eot must be an integer in \[0, 9\], got 10/);
    assertThrows(() => lm.packDocuments([Int32Array.of(1, 2)], 70000, 10), ValueError, 'packDocuments: ', /eot/);
    assertThrows(() => lm.packDocuments([3] as never, 0, 10), ArgumentTypeError, 'packDocuments: ', /docs\[0\] must be an Int32Array, got number 3/);
    assertThrows(() => lm.packDocuments([Int32Array.of(1)], 0, 1.5), ArgumentTypeError, 'packDocuments: ', /vocabSize must be an integer/);
    expect([...lm.packDocuments([Int32Array.of(1, 2), Int32Array.of(3)], 9, 10)]).toEqual([1, 2, 9, 3, 9]);
  });

  it('Sampler.next refuses a batch larger than an array holds instead of a RangeError', () => {
    const s = new lm.RandomWindowSampler(Uint16Array.from({ length: 40 }, (_, i) => i % 7), 4, 1);
    assertThrows(() => s.next(2 ** 40), ValueError, 'RandomWindowSampler.next: ', /batch must be an integer in \[1, \d+\], got 1099511627776/);
    expect(s.next(2).inputs.length).toBe(8);
  });
});

describe('sampling, seeds and runtime helpers', () => {
  it('sampleToken refuses a vocabulary size, offset, temperature, topK or u out of range', () => {
    const logits = [1, 2, 3];
    assertThrows(() => lm.sampleToken(logits, 0, 4, 1, undefined, 0.5), ValueError, 'sampleToken: ', /V must be an integer in \[1, 3\], got 4/);
    assertThrows(() => lm.sampleToken(logits, 0, -1, 1, undefined, 0.5), ValueError, 'sampleToken: ', /V must be an integer/);
    assertThrows(() => lm.sampleToken(logits, 1, 3, 1, undefined, 0.5), ValueError, 'sampleToken: ', /offset must be an integer in \[0, 0\], got 1/);
    assertThrows(() => lm.sampleToken(logits, 0, 3, NaN, undefined, 0.5), ValueError, 'sampleToken: ', /temperature must be a finite number >= 0, got NaN/);
    assertThrows(() => lm.sampleToken(logits, 0, 3, 1, 0, 0.5), ValueError, 'sampleToken: ', /topK must be an integer >= 1, got 0/);
    assertThrows(() => lm.sampleToken(logits, 0, 3, 1, undefined, 1), ValueError, 'sampleToken: ', /u must be in \[0, 1\), got 1/);
    expect(lm.sampleToken(logits, 0, 3, 0, undefined, 0.5)).toBe(2);
  });

  it('seedFor, defaultMlpHidden and matmulKernel refuse invalid values', () => {
    assertThrows(() => lm.seedFor(-1, 'w'), ValueError, 'seedFor: ', /seed must be an integer in \[0, \d+\], got -1/);
    assertThrows(() => lm.seedFor(1, null as never), ArgumentTypeError, 'seedFor: ', /name must be a string, got null/);
    assertThrows(() => lm.defaultMlpHidden(0, 'gelu'), ValueError, 'defaultMlpHidden: ', /dim must be an integer >= 1, got 0/);
    assertThrows(() => lm.defaultMlpHidden(8, 'tanh' as never), ValueError, 'defaultMlpHidden: ', /unknown activation "tanh"/);
    assertThrows(() => lm.matmulKernel('int8' as never), DTypeError, 'matmulKernel: ', /got "int8"/);
    expect(lm.defaultMlpHidden(8, 'gelu')).toBe(32);
    expect(typeof lm.matmulKernel('bfloat16')).toBe('string');
  });
});
