import { describe, expect, it } from 'vitest';

import { DTypeError, gradcheck, memory, noGrad, ShapeError, tensor, tidy, ValueError, type Tensor } from '../lib/index.js';
import { activation, gatedActivation, type ActivationKind, type GatedKind } from '../lib/ops/activation.js';
import { alibiSlopes, attention } from '../lib/ops/attention.js';
import { dropout } from '../lib/ops/dropout.js';
import { layerNorm, rmsNorm } from '../lib/ops/norm.js';
import { rope, type RopePairing } from '../lib/ops/rope.js';
import { assertClose, assertThrows, TOL, type Tol } from './reference/check.js';
import { refActivation, refAlibiSlopes, refAttention, refGated, refLayerNorm, refRmsNorm, refRope } from './reference/layers.js';
import { nd, type NdArray } from './reference/ndarray.js';
import { Rng } from './reference/prng.js';
import { describeDevices } from './devices.js';

type FD = 'float64' | 'float32';
// float32 results are compared with float64 references computed from the same (float32-rounded) inputs;
// the tolerance covers accumulation over D = 40 and the softmax.
const TOLS: Record<FD, Tol> = { float64: { rtol: 1e-10, atol: 1e-12 }, float32: { rtol: 2e-5, atol: 2e-6 } };

// A random tensor in dtype and the NdArray of exactly the values it holds.
function input(rng: Rng, shape: number[], dtype: FD, lo = -2, hi = 2): [Tensor<FD>, NdArray] {
  const t = tensor(rng.array(shape.reduce((a, b) => a * b, 1), lo, hi), shape, dtype) as Tensor<FD>;
  return [t, nd(shape, t.dataSync())];
}

function f64(t: Tensor): Float64Array {
  return Float64Array.from(t.dataSync() as ArrayLike<number>);
}

describe('alibiSlopes', () => {
  it('matches the paper for powers of two and for other head counts', () => {
    expect(alibiSlopes(8)).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((h) => 2 ** -h));
    // n = 6: the 4 slopes of c = 4 (2^-2, 2^-4, 2^-6, 2^-8), then every other one of the 8-head list (2^-1, 2^-3)
    assertClose(alibiSlopes(6), [2 ** -2, 2 ** -4, 2 ** -6, 2 ** -8, 2 ** -1, 2 ** -3], TOL.float64, 'alibi 6');
    for (let n = 1; n <= 40; n++) assertClose(alibiSlopes(n), refAlibiSlopes(n), TOL.float64, `alibi ${n}`);
  });

  it('rejects a head count that is not a positive integer', () => {
    assertThrows(() => alibiSlopes(0), ValueError, 'alibiSlopes', '0');
    expect(() => alibiSlopes(2.5)).toThrow(/alibiSlopes: nHeads must be an integer/);
  });
});

describe('attention against the explicit T×T reference', () => {
  const cases: [string, number, number, 'none' | 'alibi', boolean][] = [
    ['MHA, causal', 6, 6, 'none', true],
    ['GQA 6/2, causal', 6, 2, 'none', true],
    ['GQA 6/3, ALiBi', 6, 3, 'alibi', true],
    ['MHA, ALiBi (6 heads: not a power of two)', 6, 6, 'alibi', true],
    ['MQA 6/1, not causal', 6, 1, 'none', false],
  ];
  for (const dtype of ['float64', 'float32'] as const) {
    it.each(cases)(`%s (${dtype}, T = 13, D = 40)`, (name, H, Hkv, position, causal) => {
      const rng = new Rng(`attention ${name} ${dtype}`);
      const B = 2, T = 13, D = 40;
      const [q, qa] = input(rng, [B, H, T, D], dtype);
      const [k, ka] = input(rng, [B, Hkv, T, D], dtype);
      const [v, va] = input(rng, [B, Hkv, T, D], dtype);
      const y = attention(q, k, v, { position, causal });
      expect(y.shape).toEqual([B, H, T, D]);
      const ref = refAttention(qa, ka, va, { causal, slopes: position === 'alibi' ? refAlibiSlopes(H) : null });
      assertClose(f64(y), ref.data, TOLS[dtype], name);
    });
  }

  it('queries at the last Tq positions (a KV cache) equal the last rows of full attention', () => {
    const rng = new Rng('attention kv');
    const B = 2, H = 6, Hkv = 2, T = 13, Tq = 4, D = 40;
    const [q] = input(rng, [B, H, T, D], 'float64');
    const [k, ka] = input(rng, [B, Hkv, T, D], 'float64');
    const [v, va] = input(rng, [B, Hkv, T, D], 'float64');
    for (const position of ['none', 'alibi'] as const) {
      const full = attention(q, k, v, { position });
      const last = attention(q.slice(2, T - Tq), k, v, { position });
      assertClose(f64(last), f64(full.slice(2, T - Tq).contiguous()), TOLS.float64, `last rows ${position}`);
      const qTail = nd([B, H, Tq, D]);
      qTail.data.set(f64(q.slice(2, T - Tq).contiguous()));
      const ref = refAttention(qTail, ka, va, { causal: true, slopes: position === 'alibi' ? alibiSlopes(H) : null });
      assertClose(f64(last), ref.data, TOLS.float64, `kv reference ${position}`);
    }
  });

  it('takes custom slopes and scale', () => {
    const rng = new Rng('attention custom');
    const [q, qa] = input(rng, [1, 3, 5, 8], 'float64');
    const [k, ka] = input(rng, [1, 3, 5, 8], 'float64');
    const [v, va] = input(rng, [1, 3, 5, 8], 'float64');
    const slopes = [0.7, 0.2, 1.5];
    const y = attention(q, k, v, { position: 'alibi', alibiSlopes: slopes, scale: 0.3 });
    assertClose(f64(y), refAttention(qa, ka, va, { causal: true, slopes, scale: 0.3 }).data, TOLS.float64);
  });

  it('rejects bad arguments with the op and the values', () => {
    const q = tensor(new Float32Array(2 * 6 * 5 * 8).fill(0.5), [2, 6, 5, 8]);
    const k4 = tensor(new Float32Array(2 * 4 * 5 * 8).fill(0.5), [2, 4, 5, 8]);
    const k2 = tensor(new Float32Array(2 * 2 * 5 * 8).fill(0.5), [2, 2, 5, 8]);
    assertThrows(() => attention(q, k4, k4), ShapeError, 'attention', 'query heads (6)', 'key/value heads (4)');
    assertThrows(() => attention(q, k2, k2.slice(3, 0, 4)), ShapeError, 'attention', '[2, 2, 5, 4]');
    assertThrows(() => attention(q.reshape(12, 5, 8), k2, k2), ShapeError, 'attention', '[12, 5, 8]');
    assertThrows(() => attention(q, k2.slice(2, 0, 3), k2.slice(2, 0, 3)), ShapeError, 'Tq = 5 > Tk = 3');
    assertThrows(() => attention(q, k2, k2, { position: 'sinusoid' as 'none' }), ValueError, 'attention', '"sinusoid"');
    assertThrows(() => attention(q, k2, k2, { position: 'alibi', alibiSlopes: [1, 2] }), ValueError, 'alibiSlopes', '6');
    assertThrows(() => attention(q, k2, k2, { position: 'alibi', causal: false }), ValueError, 'causal');
    assertThrows(() => attention(q, k2.astype('float64'), k2), DTypeError, 'attention', 'float64');
    assertThrows(() => attention(q, k2, k2, { casual: true } as never), ValueError, "unknown option 'casual'");
  });
});

describeDevices('rope', () => {
  for (const pairing of ['half', 'interleaved'] as const) {
    for (const dtype of ['float64', 'float32'] as const) {
      it(`matches the reference (${pairing}, ${dtype}, odd T, offset)`, () => {
        const rng = new Rng(`rope ${pairing} ${dtype}`);
        const [x, xa] = input(rng, [2, 3, 13, 40], dtype);
        for (const [base, offset] of [[10000, 0], [500, 7]] as const) {
          const y = rope(x, { pairing, base, offset });
          assertClose(f64(y), refRope(xa, base, pairing, offset).data, dtype === 'float64' ? TOLS.float64 : { rtol: 1e-5, atol: 1e-5 }, `rope ${pairing}`);
        }
      });
    }

    it(`rotating positions [o, o + T) equals slicing the rotation of the whole sequence (${pairing})`, () => {
      const rng = new Rng(`rope offset ${pairing}`);
      const [x] = input(rng, [2, 2, 13, 8], 'float64');
      const full = rope(x, { pairing });
      for (const o of [1, 5, 12]) {
        const part = rope(x.slice(2, o), { pairing, offset: o });
        assertClose(f64(part), f64(full.slice(2, o).contiguous()), TOLS.float64, `offset ${o}`);
      }
    });
  }

  it('keeps dot products relative: <rope(q)_i, rope(k)_j> depends on i - j only', () => {
    const rng = new Rng('rope relative');
    const [q] = input(rng, [1, 1, 1, 16], 'float64');
    const [k] = input(rng, [1, 1, 1, 16], 'float64');
    const dot = (i: number, j: number): number => rope(q, { offset: i }).mul(rope(k, { offset: j })).sum().item();
    expect(dot(7, 3)).toBeCloseTo(dot(4, 0), 10);
    expect(dot(2, 9)).toBeCloseTo(dot(10, 17), 10);
  });

  it('rejects an odd head dimension, a bad pairing and a negative offset', () => {
    const x = tensor(new Float32Array(30).fill(1), [1, 1, 5, 6]);
    assertThrows(() => rope(x.slice(3, 0, 5)), ShapeError, 'rope', 'D = 5');
    assertThrows(() => rope(x, { pairing: 'pairs' as RopePairing }), ValueError, 'rope', '"pairs"');
    assertThrows(() => rope(x, { offset: -1 }), ValueError, 'rope', '-1');
    assertThrows(() => rope(x, { base: 0 }), ValueError, 'rope', 'base');
    assertThrows(() => rope(tensor(new Int32Array(12), [2, 6])), DTypeError, 'rope', 'int32');
  });
});

describeDevices('activations and norms against the references', () => {
  it.each(['relu', 'gelu', 'swish'] as const)('activation %s', (kind) => {
    for (const dtype of ['float64', 'float32'] as const) {
      const [x, xa] = input(new Rng(`act ${kind} ${dtype}`), [3, 7, 13], dtype, -4, 4);
      assertClose(f64(activation(x, kind)), refActivation(xa, kind).data, dtype === 'float64' ? TOLS.float64 : { rtol: 1e-6, atol: 1e-6 }, kind);
    }
  });

  it.each(['glu', 'geglu', 'swiglu', 'reglu'] as const)('gatedActivation %s: act(first half) · second half', (kind) => {
    for (const dtype of ['float64', 'float32'] as const) {
      const [x, xa] = input(new Rng(`gated ${kind} ${dtype}`), [3, 5, 26], dtype, -4, 4);
      const y = gatedActivation(x, kind);
      expect(y.shape).toEqual([3, 5, 13]);
      assertClose(f64(y), refGated(xa, kind).data, dtype === 'float64' ? TOLS.float64 : { rtol: 2e-6, atol: 1e-6 }, kind);
    }
  });

  it('layerNorm and rmsNorm (with and without bias, odd width)', () => {
    for (const dtype of ['float64', 'float32'] as const) {
      const rng = new Rng(`norms ${dtype}`);
      const tol = dtype === 'float64' ? TOLS.float64 : { rtol: 2e-5, atol: 2e-5 };
      const [x, xa] = input(rng, [2, 7, 37], dtype, -3, 5);
      const [w, wa] = input(rng, [37], dtype);
      const [b, ba] = input(rng, [37], dtype);
      assertClose(f64(layerNorm(x, w, b, 1e-5)), refLayerNorm(xa, wa.data, ba.data, 1e-5).data, tol, 'layerNorm');
      assertClose(f64(layerNorm(x, w)), refLayerNorm(xa, wa.data, null, 1e-5).data, tol, 'layerNorm without bias');
      assertClose(f64(rmsNorm(x, w, 1e-3)), refRmsNorm(xa, wa.data, 1e-3).data, tol, 'rmsNorm');
    }
  });

  it('reject unknown kinds and mismatched weights', () => {
    const x = tensor(new Float32Array(12).fill(1), [2, 6]);
    assertThrows(() => activation(x, 'tanh' as ActivationKind), ValueError, 'activation', '"tanh"', 'relu, gelu, swish');
    assertThrows(() => gatedActivation(x, 'swish' as GatedKind), ValueError, 'gatedActivation', '"swish"');
    assertThrows(() => gatedActivation(x.slice(1, 0, 5), 'swiglu'), ShapeError, 'gatedActivation', '[2, 5]');
    assertThrows(() => layerNorm(x, tensor(new Float32Array(5).fill(1))), ShapeError, 'layerNorm', 'weight must be [6]', '[5]');
    assertThrows(() => rmsNorm(x, tensor(new Float64Array(6).fill(1), [6], 'float64')), DTypeError, 'rmsNorm', 'float64');
    assertThrows(() => rmsNorm(x, tensor(new Float32Array(6).fill(1)), -1), ValueError, 'rmsNorm', 'eps', '-1');
  });
});

describe('dropout', () => {
  it('zeroes about p of the elements, scales the rest by 1/(1-p), and is reproducible by seed', () => {
    const x = tensor(new Float32Array(20000).fill(2));
    const y = f64(dropout(x, 0.25, 9));
    const kept = y.filter((v) => v !== 0);
    expect(Math.abs(kept.length / y.length - 0.75)).toBeLessThan(0.02);
    expect(kept.every((v) => Math.abs(v - 2 / 0.75) < 1e-5)).toBe(true);
    expect(f64(dropout(x, 0.25, 9))).toEqual(y);
    expect(f64(dropout(x, 0.25, 10))).not.toEqual(y);
    expect(dropout(x, 0)).toBe(x);
    assertThrows(() => dropout(x, 1), ValueError, 'dropout', 'p must be in [0, 1)', '1');
  });
});

describeDevices('gradcheck of every layer op (float64)', (device) => {
  let s = 500;
  const leaf = (shape: number[]): Tensor<'float64'> => {
    const r = new Rng(`leaf ${s++}`);
    return tensor(r.array(shape.reduce((a, b) => a * b, 1), -1.5, 1.5), shape, 'float64').setRequiresGrad();
  };
  const check = (fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[]): void => {
    const r = gradcheck(fn, inputs);
    expect(r.failures).toEqual([]);
  };

  // float64 attention runs on the CPU only: the CUDA attention kernels refuse float64 (part 2 tests them).
  it.skipIf(device === 'cuda')('attention: causal, ALiBi, GQA, KV-cache shaped', () => {
    check((q, k, v) => attention(q!, k!, v!), [leaf([2, 2, 5, 4]), leaf([2, 2, 5, 4]), leaf([2, 2, 5, 4])]);
    check((q, k, v) => attention(q!, k!, v!, { position: 'alibi' }), [leaf([1, 6, 5, 4]), leaf([1, 3, 5, 4]), leaf([1, 3, 5, 4])]);
    check((q, k, v) => attention(q!, k!, v!, { causal: false }), [leaf([1, 4, 3, 4]), leaf([1, 2, 5, 4]), leaf([1, 2, 5, 4])]);
    check((q, k, v) => attention(q!, k!, v!, { position: 'alibi' }), [leaf([1, 2, 2, 4]), leaf([1, 1, 6, 4]), leaf([1, 1, 6, 4])]);
  });

  it.each(['half', 'interleaved'] as const)('rope (%s) through a permuted view', (pairing) => {
    check((x) => rope(x!.permute(0, 2, 1, 3), { pairing, offset: 3, base: 100 }), [leaf([2, 5, 3, 6])]);
  });

  it('activations, gated activations and norms', () => {
    for (const kind of ['relu', 'gelu', 'swish'] as const) check((x) => activation(x!, kind), [leaf([3, 7])]);
    for (const kind of ['glu', 'geglu', 'swiglu', 'reglu'] as const) check((x) => gatedActivation(x!, kind), [leaf([3, 10])]);
    check((x, w, b) => layerNorm(x!, w!, b!), [leaf([3, 4, 9]), leaf([9]), leaf([9])]);
    check((x, w) => rmsNorm(x!, w!), [leaf([3, 4, 9]), leaf([9])]);
    check((x) => dropout(x!, 0.3, 4), [leaf([6, 7])]);
  });
});

describe('memory', () => {
  it('layer ops free their intermediates and keep a bounded table cache', () => {
    const rng = new Rng('layers memory');
    const [q] = input(rng, [1, 4, 9, 8], 'float32');
    const [k] = input(rng, [1, 2, 9, 8], 'float32');
    const run = (): void =>
      tidy(() => {
        const x = rope(q.setRequiresGrad(), { offset: 2 });
        const y = attention(x, rope(k, { offset: 2 }), k, { position: 'alibi' });
        y.sum().backward();
        q.zeroGrad();
      });
    run();
    const before = memory().tensors;
    for (let i = 0; i < 5; i++) run();
    expect(memory().tensors).toBe(before);
    noGrad(() => {
      // generation-like: a new mask for each length; the cache stays bounded
      for (let t = 1; t <= 40; t++)
        tidy(() => {
          attention(q.slice(2, 0, 1), k.slice(2, 0, Math.min(t, 9)), k.slice(2, 0, Math.min(t, 9))); // result freed too
        });
    });
    expect(memory().tensors).toBeLessThanOrEqual(before + 32);
  });
});
