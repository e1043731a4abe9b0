// Defects the malformed-input fuzz (test/fuzz/malformed.ts) found in the chart, tagged-corpus, task and
// run-footprint entry points: hangs, junk results and plain TypeErrors on bad input.
import { describe, expect, it } from 'vitest';

import {
  ArgumentTypeError, barChart, brownBaseTag, ByteTokenizer, escapeXml, evaluateTasks, GPT, lineChart, linearTicks, logTicks, runFootprint,
  SGD, taggedSentenceText, taggedText, tensor, ValueError, type Tokenizer,
} from '../lib/index.js';

const chart = { title: 't', xLabel: 'x', yLabel: 'y' };

describe('charts', () => {
  it('linearTicks ends on a range finer than float64 spaces its values (the step used to add nothing: a hang)', () => {
    expect(() => linearTicks(1, 1 + 2 ** -52)).toThrow(/linearTicks: cannot tick the range/);
    expect(() => linearTicks(1e20, 1e20 + 2 ** 17)).toThrow(ValueError);
  });

  it('linearTicks and logTicks reject what they cannot tick instead of returning nothing or looping forever', () => {
    expect(() => linearTicks(-1e308, 1e308)).toThrow(/too wide/);
    expect(() => linearTicks(0, 1, 0)).toThrow(/linearTicks: target/);
    expect(() => linearTicks(5, 1)).toThrow(/hi must be >= lo/);
    expect(() => linearTicks(NaN, 1)).toThrow(ValueError);
    expect(() => logTicks(0, 100, 10)).toThrow(/logTicks: lo must be > 0/);
    expect(() => logTicks(-1, 100, 2)).toThrow(ValueError);
    expect(() => logTicks(1, 100, 3 as never)).toThrow(/base must be 2 or 10, got 3/);
    // Near the float64 maximum the upper bound used to overflow to Infinity and let an Infinity tick in.
    expect(logTicks(1, 1.7e308, 10).every(Number.isFinite)).toBe(true);
  });

  it('charts of values whose axis float64 cannot hold throw instead of drawing NaN coordinates', () => {
    expect(() => lineChart({ ...chart, series: [{ name: 's', points: [[0, 1.7e308], [1, -1.7e308]] }] })).toThrow(/lineChart: values from/);
    expect(() => lineChart({ ...chart, logY: true, series: [{ name: 's', points: [[1, 5e-324], [2, 1]] }] })).toThrow(ValueError);
    expect(() => barChart({ title: 't', yLabel: 'y', bars: [{ label: 'a', value: 1.7e308 }] })).toThrow(/barChart: values from/);
    // A lone large value still gets an axis around it (±1 vanished in rounding).
    expect(lineChart({ ...chart, yFromZero: false, series: [{ name: 's', points: [[1, 1e20], [2, 1e20]] }] })).not.toMatch(/NaN/);
    // ... and so do values that differ only in rounding, which no ticks tell apart.
    expect(lineChart({ ...chart, yFromZero: false, series: [{ name: 's', points: [[1, 1], [2, 1 + 2 ** -52]] }] })).not.toMatch(/NaN/);
  });

  it('charts and escapeXml name the bad option or field', () => {
    expect(() => escapeXml(3 as never)).toThrow(ArgumentTypeError);
    expect(() => lineChart(null as never)).toThrow(/lineChart: options must be an object/);
    expect(() => lineChart({ ...chart, series: [{ name: 's', points: [[1]] }] } as never)).toThrow(/series\[0\]\.points\[0\] must be an \[x, y\] pair/);
    expect(() => lineChart({ ...chart, width: -720, series: [] })).toThrow(/width must be in/);
    expect(() => barChart({ title: 't', yLabel: 'y', bars: [{ label: 'a', value: '1' }] } as never)).toThrow(/bars\[0\]\.value must be a number/);
    expect(() => barChart({ title: 't', yLabel: 'y', logY: 3, bars: [] } as never)).toThrow(/logY must be true, false, 2 or 10/);
  });
});

describe('tagged text and tags', () => {
  it('throws typed errors naming the bad word or sentence, where it used to return junk or throw a TypeError', () => {
    expect(() => taggedSentenceText([{ word: 'a', tag: 'at' }, 3] as never)).toThrow(/taggedSentenceText: words\[1\]/);
    expect(() => taggedSentenceText([{ word: 'a', tag: null }] as never)).toThrow(ArgumentTypeError);
    expect(() => taggedText({ source: 'a', sentences: [[{ word: 'x' }]] } as never)).toThrow(/taggedText: doc\.sentences\[0\]\[0\]/);
    expect(() => taggedText(null as never)).toThrow(ArgumentTypeError);
    expect(() => brownBaseTag(3 as never)).toThrow(/brownBaseTag: tag must be a string/);
  });
});

describe('evaluateTasks with a tokenizer that gives bad ids', () => {
  const model = new GPT({ vocabSize: 257, seqLen: 8, layers: 1, dim: 8, heads: 2, seed: 1 });
  const task = { name: 't', kind: 'choice' as const, examples: [{ context: 'a', choices: ['b', 'c'], gold: 0 }] };
  const fake = (ids: unknown, eot = 256): Tokenizer => ({ vocabSize: 257, eot, encode: async () => ids, decode: async () => 'x' }) as unknown as Tokenizer;

  it('rejects fractional and non-numeric ids (an Int32Array used to truncate them and score the wrong tokens)', async () => {
    await expect(evaluateTasks(model, fake([1.5]), [task])).rejects.toThrow(/evaluateTasks: tokenizer.encode\("a"\) gave id 1.5/);
    await expect(evaluateTasks(model, fake([NaN]), [task])).rejects.toThrow(ValueError);
    await expect(evaluateTasks(model, fake('ab'), [task])).rejects.toThrow(ArgumentTypeError);
    await expect(evaluateTasks(model, fake([1], 300), [task])).rejects.toThrow(/eot 300 is outside/);
    const lastWord = { name: 'w', kind: 'last-word' as const, examples: [{ context: 'a b', target: 'cat' }] };
    await expect(evaluateTasks(model, { ...fake([1, 2]), decode: async () => 3 } as never, [lastWord])).rejects.toThrow(/tokenizer.decode must give a string/);
    const ok = await evaluateTasks(model, new ByteTokenizer(), [task]);
    expect(ok[0]!.examples).toBe(1);
  });
});

describe('runFootprint', () => {
  it('checks its arguments', () => {
    const model = new GPT({ vocabSize: 11, seqLen: 8, layers: 1, dim: 8, heads: 2, seed: 1 });
    const opt = new SGD([tensor([1, 2]).setRequiresGrad()]);
    expect(() => runFootprint(null as never, opt)).toThrow(/runFootprint: model must be a GPT/);
    expect(() => runFootprint(model, null as never)).toThrow(/runFootprint: optimizer must be an Optimizer/);
    expect(() => runFootprint(model, opt, NaN)).toThrow(ValueError);
    expect(runFootprint(model, opt, 8).optimizerStateBytes).toBe(8);
  });
});
