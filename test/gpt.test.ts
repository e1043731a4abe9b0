import { describe, expect, it } from 'vitest';

import { ArgumentTypeError, copyInto, DTypeError, memory, noGrad, ShapeError, tensor, tidy, ValueError, type Tensor } from '../lib/index.js';
import {
  defaultMlpHidden, GPT, MLP_ACTIVATIONS, parameterCount, POSITION_KINDS, resolveGPTConfig, sampleToken, type GPTConfig,
} from '../lib/nn/index.js';
import { assertEqual, assertThrows } from './reference/check.js';
import { Rng } from './reference/prng.js';

const NORMS = ['layernorm', 'rmsnorm'] as const;
const tiny = (over: Partial<GPTConfig> = {}): GPTConfig => ({ vocabSize: 64, seqLen: 16, layers: 2, dim: 32, heads: 4, seed: 1, ...over });

function ids(rng: Rng, B: number, T: number, V: number): Tensor<'int32'> {
  return tensor(rng.ints(B * T, 0, V), [B, T]);
}

describe('GPTConfig', () => {
  it('fills in the defaults (GPT-2 choices) and the MLP widths', () => {
    const c = resolveGPTConfig(tiny());
    expect(c).toMatchObject({
      kvHeads: 4, position: 'learned', ropeBase: 10000, ropePairing: 'half', activation: 'gelu', mlpHidden: 128, norm: 'layernorm',
      normEps: 1e-5, tieEmbeddings: true, dropout: 0, bias: true, initStd: 0.02, dtype: 'float32', device: 'cpu',
    });
    expect(resolveGPTConfig(tiny({ norm: 'rmsnorm' })).normEps).toBe(1e-6);
    // gated: 8·dim/3 rounded to the nearest multiple of 8
    expect(defaultMlpHidden(384, 'swiglu')).toBe(1024);
    expect(defaultMlpHidden(32, 'geglu')).toBe(88);
    expect(defaultMlpHidden(768, 'glu')).toBe(2048);
    expect(defaultMlpHidden(100, 'reglu')).toBe(264);
    expect(defaultMlpHidden(100, 'relu')).toBe(400);
    expect(resolveGPTConfig(tiny({ activation: 'swiglu', mlpHidden: 50 })).mlpHidden).toBe(50);
  });

  it('rejects bad configs with the field and the value', () => {
    const bad: [Partial<GPTConfig> | Record<string, unknown>, string[]][] = [
      [{ dim: 30 }, ['dim 30 is not divisible by heads 4']],
      [{ kvHeads: 3 }, ['kvHeads 3 does not divide heads 4']],
      [{ activation: 'mish' }, ['activation', '"mish"', 'relu, gelu, swish, glu, geglu, swiglu, reglu']],
      [{ position: 'sinusoidal' }, ['position', '"sinusoidal"', 'rope, alibi, learned, none']],
      [{ norm: 'batchnorm' }, ['norm', '"batchnorm"']],
      [{ ropePairing: 'pairs' }, ['ropePairing', '"pairs"']],
      [{ layers: 0 }, ['layers', '0']],
      [{ vocabSize: 2.5 }, ['vocabSize', '2.5']],
      [{ dropout: 1 }, ['dropout', '1']],
      [{ dim: 36, heads: 12, position: 'rope' }, ['rope', 'even head dimension', '3']],
      [{ dtype: 'int32' }, ['dtype', 'int32']],
      [{ hidden: 10 }, ["unknown option 'hidden'"]],
      [{ tieEmbeddings: 'yes' }, ['tieEmbeddings', '"yes"']],
    ];
    for (const [over, patterns] of bad) {
      assertThrows(() => new GPT(tiny(over as Partial<GPTConfig>)), ValueError, 'GPTConfig', ...patterns);
      assertThrows(() => parameterCount(tiny(over as Partial<GPTConfig>)), ValueError, ...patterns);
    }
    expect(() => resolveGPTConfig({ vocabSize: 64, seqLen: 16, layers: 2, dim: 32 } as GPTConfig)).toThrow(/GPTConfig: heads must be an integer >= 1, got undefined/);
    assertThrows(() => resolveGPTConfig(null as unknown as GPTConfig), ArgumentTypeError, 'GPTConfig');
  });
});

describe('parameter count', () => {
  it('numParameters() equals the closed form for every position × activation × norm × tie', () => {
    for (const position of POSITION_KINDS)
      for (const activation of MLP_ACTIVATIONS)
        for (const norm of NORMS)
          for (const tieEmbeddings of [true, false]) {
            const config = tiny({ position, activation, norm, tieEmbeddings, layers: 1, dim: 16, heads: 2 });
            const m = new GPT(config);
            expect(m.numParameters(), JSON.stringify(config)).toBe(parameterCount(config));
            m.dispose();
          }
  });

  it('also without biases, with grouped-query heads and a custom MLP width', () => {
    for (const config of [
      tiny({ bias: false, kvHeads: 2, activation: 'swiglu', norm: 'rmsnorm', position: 'rope' }),
      tiny({ bias: false, kvHeads: 1, mlpHidden: 24, tieEmbeddings: false }),
      tiny({ heads: 8, kvHeads: 2, position: 'alibi', activation: 'reglu', layers: 3 }),
    ]) {
      const m = new GPT(config);
      expect(m.numParameters()).toBe(parameterCount(config));
      m.dispose();
    }
  });

  it('matches published sizes: GPT-2 small has 124,439,808 parameters', () => {
    expect(parameterCount({ vocabSize: 50257, seqLen: 1024, layers: 12, dim: 768, heads: 12 })).toBe(124_439_808);
    // a gated MLP at 8·dim/3 keeps the count of a 4·dim MLP (up to the rounding to 64): 3·C·h vs 2·C·4C
    const relu = parameterCount({ vocabSize: 8192, seqLen: 256, layers: 6, dim: 384, heads: 6, activation: 'relu', bias: false });
    const swiglu = parameterCount({ vocabSize: 8192, seqLen: 256, layers: 6, dim: 384, heads: 6, activation: 'swiglu', bias: false });
    expect(swiglu).toBe(relu); // 8·384/3 = 1024 exactly
  });
});

describe('training', () => {
  // One fixed batch of random tokens; the model must memorise it. SGD with the global gradient norm
  // clipped at 1 (the usual guard in LM training): plain SGD at a rate high enough to learn in 50
  // steps spikes on some configs, and the test is about every configuration learning, not about a rate.
  const rng = new Rng('training batch');
  const B = 4, T = 16, V = 64;
  const seq = rng.ints(B * (T + 1), 0, V);
  const x = new Int32Array(B * T), y = new Int32Array(B * T);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) {
      x[b * T + t] = seq[b * (T + 1) + t]!;
      y[b * T + t] = seq[b * (T + 1) + t + 1]!;
    }
  const tokens = tensor(x, [B, T]), targets = tensor(y, [B, T]);

  function sgdStep(m: GPT, lr: number, clip: number): number {
    return tidy(() => {
      const { loss } = m.forward(tokens, targets);
      loss!.backward();
      const value = loss!.item();
      noGrad(() => {
        const params = m.parameters();
        // the global norm on the host: one read per parameter rather than three native ops and a read
        let sq = 0;
        for (const p of params) for (const g of p.grad!.dataSync() as Float32Array) sq += g * g;
        const norm = Math.sqrt(sq);
        const step = lr * Math.min(1, clip / norm);
        for (const p of params) copyInto(p, p.sub(p.grad!.mul(step)));
      });
      m.zeroGrad();
      return value;
    });
  }

  for (const position of POSITION_KINDS) {
    it.each(MLP_ACTIVATIONS)(`${position} × %s: 50 SGD steps at least halve the loss`, (activation) => {
      const m = new GPT(tiny({ position, activation, kvHeads: position === 'rope' ? 2 : 4 }));
      const losses: number[] = [];
      for (let step = 0; step < 50; step++) losses.push(sgdStep(m, 1, 1));
      const final = m.forward(tokens, targets).loss!.item();
      expect(losses[0]!).toBeGreaterThan(Math.log(V) - 0.1); // starts near uniform
      expect(final, `losses ${losses.filter((_, i) => i % 10 === 0).map((l) => l.toFixed(2)).join(' ')} -> ${final}`).toBeLessThan(losses[0]! / 2);
      m.dispose();
    });
  }

  it('a training loop inside tidy() keeps memory flat', () => {
    const m = new GPT(tiny({ position: 'alibi', activation: 'swiglu', dropout: 0.1 }));
    sgdStep(m, 0.1, 1);
    const after = memory();
    for (let i = 0; i < 5; i++) sgdStep(m, 0.1, 1);
    expect(memory().tensors).toBe(after.tensors);
    expect(memory().bytes).toBe(after.bytes);
    m.dispose();
  });
});

describe('state and generation', () => {
  it('stateDict saved and loaded into a fresh model gives identical logits', () => {
    for (const position of POSITION_KINDS) {
      const rng = new Rng(`state ${position}`);
      const config = tiny({ position, activation: 'geglu', tieEmbeddings: position !== 'rope' });
      const a = new GPT(config);
      const x = ids(rng, 2, 9, 64);
      // perturb away from the init, so the check does not pass by both models sharing the seed
      noGrad(() => {
        for (const p of a.parameters()) copyInto(p, p.add(tensor(rng.array(p.size, -0.05, 0.05), p.shape as number[])));
      });
      const b = new GPT({ ...config, seed: 77 });
      expect(b.forward(x).logits.dataSync()).not.toEqual(a.forward(x).logits.dataSync());
      b.loadStateDict(a.stateDict());
      assertEqual(b.forward(x).logits.dataSync(), a.forward(x).logits.dataSync(), position);
      assertThrows(() => new GPT({ ...config, layers: 1 }).loadStateDict(a.stateDict()), ValueError, 'unexpected keys: blocks.1.');
    }
  });

  it('initialises weights at initStd, residual projections at initStd/√(2·layers), biases at 0 and norms at 1', () => {
    const m = new GPT(tiny({ dim: 64, layers: 8, heads: 4, tieEmbeddings: false, seqLen: 8 }));
    const std = (t: Tensor): number => {
      const d = t.dataSync() as Float32Array;
      return Math.sqrt(d.reduce((a, v) => a + v * v, 0) / d.length);
    };
    const p = new Map(m.namedParameters());
    for (const name of ['tokenEmbedding.weight', 'positionEmbedding.weight', 'blocks.3.attn.qkv.weight', 'blocks.7.mlp.fc.weight', 'lmHead.weight'])
      expect(std(p.get(name)!), name).toBeCloseTo(0.02, 2);
    for (const name of ['blocks.0.attn.proj.weight', 'blocks.5.mlp.proj.weight']) {
      expect(std(p.get(name)!) / (0.02 / 4), name).toBeGreaterThan(0.9);
      expect(std(p.get(name)!) / (0.02 / 4), name).toBeLessThan(1.1);
    }
    expect(std(p.get('blocks.2.attn.qkv.bias')!)).toBe(0);
    expect([...new Set(p.get('blocks.1.norm2.weight')!.dataSync())]).toEqual([1]);
    expect([...new Set(p.get('finalNorm.bias')!.dataSync())]).toEqual([0]);
  });

  it('trains in bfloat16 and float16 too', () => {
    for (const dtype of ['bfloat16', 'float16'] as const) {
      const m = new GPT(tiny({ dtype, position: 'rope', activation: 'swiglu', norm: 'rmsnorm', kvHeads: 2 }));
      const x = ids(new Rng(`half ${dtype}`), 2, 8, 64);
      tidy(() => {
        const { logits, loss } = m.forward(x, x);
        expect(logits.dtype).toBe(dtype);
        loss!.backward();
        expect(Number.isFinite(loss!.item())).toBe(true);
        expect(m.parameters().every((q) => q.grad?.dtype === dtype)).toBe(true);
      });
      expect(m.generate(x, { maxTokens: 3, seed: 1 }).shape).toEqual([2, 11]);
    }
  });

  it('the same seed builds the same model', () => {
    const a = new GPT(tiny({ position: 'rope' })), b = new GPT(tiny({ position: 'rope' }));
    for (const [[n, p], [, q]] of a.namedParameters().map((e, i) => [e, b.namedParameters()[i]!] as const)) assertEqual(p.dataSync(), q.dataSync(), n);
    expect(new GPT(tiny({ seed: 2 })).tokenEmbedding.weight.dataSync()).not.toEqual(a.tokenEmbedding.weight.dataSync());
  });

  it.each(POSITION_KINDS)('greedy generation with the KV cache equals full recomputation token for token (%s)', (position) => {
    const rng = new Rng(`generate ${position}`);
    const m = new GPT(tiny({ position, kvHeads: 2, activation: 'swiglu', seqLen: 24 }));
    // larger weights than the init, so the logits are far from uniform and the argmax is well separated
    noGrad(() => {
      for (const p of m.parameters()) copyInto(p, p.mul(8));
    });
    const prompt = ids(rng, 2, 5, 64);
    const out = m.generate(prompt, { maxTokens: 19, temperature: 0 });
    expect(out.shape).toEqual([2, 24]);
    const got = out.dataSync();
    const seq = Array.from(prompt.dataSync());
    const expected: number[][] = [seq.slice(0, 5), seq.slice(5)];
    for (let step = 0; step < 19; step++) {
      const len = 5 + step;
      const logits = m.forward(tensor(Int32Array.from(expected.flat()), [2, len])).logits.dataSync();
      for (let b = 0; b < 2; b++) {
        const row = logits.subarray((b * len + len - 1) * 64, (b * len + len) * 64);
        expected[b]!.push(row.indexOf(Math.max(...row)));
      }
    }
    expect(Array.from(got)).toEqual(expected.flat());
  });

  it('sampling is seeded and deterministic; topK 1 and temperature 0 are greedy', () => {
    const m = new GPT(tiny({ position: 'rope', seqLen: 40 }));
    const prompt = tensor(new Int32Array([3, 1, 4]));
    const a = m.generate(prompt, { maxTokens: 30, seed: 5 }).dataSync();
    const b = m.generate(prompt, { maxTokens: 30, seed: 5 }).dataSync();
    const c = m.generate(prompt, { maxTokens: 30, seed: 6 }).dataSync();
    expect(a.length).toBe(33);
    expect(Array.from(a.subarray(0, 3))).toEqual([3, 1, 4]);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    const greedy = m.generate(prompt, { maxTokens: 10, temperature: 0 }).dataSync();
    expect(m.generate(prompt, { maxTokens: 10, topK: 1, seed: 9 }).dataSync()).toEqual(greedy);
    expect(m.generate(prompt, { maxTokens: 0 }).dataSync()).toEqual(prompt.dataSync());
    expect(m.training).toBe(true); // restored after generate's eval mode
  });

  it('sampleToken: greedy, top-k and the inverse CDF', () => {
    const l = Float64Array.from([0, 2, 1, 2]);
    expect(sampleToken(l, 0, 4, 0, undefined, 0.9)).toBe(1); // first maximum
    expect(sampleToken(l, 0, 4, 1, 1, 0.99)).toBe(3); // top-1 keeps both tied maxima
    // probabilities ∝ e^0, e^2, e^1, e^2: u just above the first two masses lands on token 2
    const z = 1 + 2 * Math.E ** 2 + Math.E;
    expect(sampleToken(l, 0, 4, 1, undefined, (1 + Math.E ** 2) / z + 1e-9)).toBe(2);
    expect(sampleToken(l, 0, 4, 1, undefined, 0)).toBe(0);
    expect(sampleToken(Float64Array.from([9, 0, 0, 5]), 1, 3, 1, 2, 0.999)).toBe(2);
    assertThrows(() => sampleToken([0, NaN], 0, 2, 1, undefined, 0.5), ValueError, 'NaN');
  });

  it('rejects bad tokens, targets and generation options with clear errors', () => {
    const m = new GPT(tiny());
    const rng = new Rng('gpt errors');
    assertThrows(() => m.forward(ids(rng, 1, 17, 64)), ShapeError, 'GPT.forward', 'length 17', 'seqLen 16');
    assertThrows(() => m.forward(tensor(new Int32Array([1, 2, 64]), [1, 3])), ValueError, 'GPT.forward', 'tokens[0, 2] = 64', '[0, 64)');
    assertThrows(() => m.forward(tensor(new Int32Array([1, -1]), [1, 2])), ValueError, '-1');
    assertThrows(() => m.forward(tensor([[1, 2]]) as unknown as Tensor<'int32'>), DTypeError, 'GPT.forward', 'int32', 'float32');
    assertThrows(() => m.forward(tensor(new Int32Array([1, 2]))), ShapeError, '[B, T]', '[2]');
    assertThrows(() => m.forward(ids(rng, 2, 4, 64), ids(rng, 2, 3, 64)), ShapeError, 'targets', '[2, 4]', '[2, 3]');
    assertThrows(() => m.forward(ids(rng, 2, 4, 64), tensor(new Float32Array(8), [2, 4]) as unknown as Tensor<'int32'>), DTypeError, 'targets');
    const p = tensor(new Int32Array([1, 2, 3]));
    assertThrows(() => m.generate(p, { maxTokens: 14 }), ShapeError, 'GPT.generate', 'prompt length 3 + maxTokens 14 = 17', 'seqLen 16');
    assertThrows(() => m.generate(p, { maxTokens: 2, temperature: -1 }), ValueError, 'temperature', '-1');
    assertThrows(() => m.generate(p, { maxTokens: 2, topK: 0 }), ValueError, 'topK', '0');
    assertThrows(() => m.generate(p, { maxTokens: -2 }), ValueError, 'maxTokens', '-2');
    assertThrows(() => m.generate(p, { maxTokens: 2, temp: 1 } as never), ValueError, "unknown option 'temp'");
    assertThrows(() => m.generate(tensor(new Int32Array([70])), { maxTokens: 1 }), ValueError, 'prompt[0, 0] = 70');
  });

  it('dropout is active in training mode only, and reproducible from the config seed', () => {
    const x = ids(new Rng('dropout gpt'), 2, 8, 64);
    const m = new GPT(tiny({ dropout: 0.2 }));
    const t1 = m.forward(x).logits.dataSync(), t2 = m.forward(x).logits.dataSync();
    expect(t1).not.toEqual(t2);
    expect(new GPT(tiny({ dropout: 0.2 })).forward(x).logits.dataSync()).toEqual(t1);
    m.eval();
    expect(m.forward(x).logits.dataSync()).toEqual(m.forward(x).logits.dataSync());
  });
});
