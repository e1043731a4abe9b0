import { afterAll, describe, expect, it } from 'vitest';

import {
  ArgumentTypeError, crossEntropy, DTypeError, gradcheck, setCpuTier, ShapeError, tensor, ValueError, type Tensor,
} from '../lib/index.js';
import { cpuInfo } from '../lib/runtime.js';
import { fusedActivation, fusedGatedActivation } from '../lib/ops/activation.js';
import { fusedLayerNorm, fusedRmsNorm } from '../lib/ops/norm.js';
import { fusedRope } from '../lib/ops/rope.js';
import { assertClose, assertThrows, type Tol } from './reference/check.js';
import { refActivation, refCrossEntropyZ, refGated, refNorm, refRope } from './reference/layers_fused.js';
import { BASE_SEED, mulberry32 } from './reference/prng.js';
import { describeDevices } from './devices.js';

type FD = 'float32' | 'bfloat16' | 'float64';
const rnd = mulberry32(BASE_SEED ^ 0x1a7e);
function data(n: number, scale = 2): Float64Array {
  return Float64Array.from({ length: n }, () => (rnd() * 2 - 1) * scale);
}
// A tensor of dtype d and the exact values it holds (rounded to d).
function make(n: number, shape: number[], d: FD, scale = 2): [Tensor, Float64Array] {
  const t = tensor(d === 'float64' ? data(n, scale) : Float32Array.from(data(n, scale)), shape, d);
  return [t, Float64Array.from(t.dataSync() as ArrayLike<number>)];
}
const vals = (t: Tensor): Float64Array => Float64Array.from(t.dataSync() as ArrayLike<number>);

// fp32: the vectorised exp/erf of native/kernels/activation.h (a few ulp; erf 1.5e-7 absolute).
// bf16: one rounding of the result (2^-9 relative) on top of fp32 math.
const TOL: Record<FD, Tol> = { float32: { rtol: 2e-5, atol: 1e-6 }, bfloat16: { rtol: 8e-3, atol: 1e-3 }, float64: { rtol: 1e-12, atol: 1e-13 } };
const DTYPES: FD[] = ['float32', 'bfloat16', 'float64'];

afterAll(() => setCpuTier(null));

describeDevices('fused activations against float64 references', () => {
  const tiers = [cpuInfo().tier, 'scalar'] as const;
  for (const tier of tiers)
    for (const d of DTYPES) {
      it(`plain kinds, ${d}, tier ${tier}, shape [3, 13, 40]`, () => {
        setCpuTier(tier === cpuInfo().tier ? null : 'scalar');
        for (const kind of ['relu', 'gelu', 'swish'] as const) {
          const [x, xv] = make(3 * 13 * 40, [3, 13, 40], d, 5);
          const y = fusedActivation(x, kind);
          expect(y.shape).toEqual([3, 13, 40]);
          expect(y.dtype).toBe(d);
          assertClose(vals(y), refActivation(kind, xv), TOL[d], `${kind} ${d}`);
        }
        setCpuTier(null);
      });
      it(`gated kinds, ${d}, tier ${tier}, h = 37`, () => {
        setCpuTier(tier === cpuInfo().tier ? null : 'scalar');
        for (const kind of ['glu', 'geglu', 'swiglu', 'reglu'] as const) {
          const [x, xv] = make(3 * 5 * 74, [3, 5, 74], d, 4);
          const y = fusedGatedActivation(x, kind);
          expect(y.shape).toEqual([3, 5, 37]);
          const tol = d === 'float32' ? { rtol: 4e-5, atol: 2e-6 } : TOL[d];
          assertClose(vals(y), refGated(kind, xv, 37), tol, `${kind} ${d}`);
        }
        setCpuTier(null);
      });
    }
});

describeDevices('fused norms against float64 references', () => {
  for (const d of DTYPES)
    for (const D of [40, 37]) {
      it(`layerNorm and rmsNorm, ${d}, D = ${D}, with and without residual and bias`, () => {
        const rows = 3 * 13;
        const tol = d === 'bfloat16' ? { rtol: 1.6e-2, atol: 2e-2 } : d === 'float32' ? { rtol: 1e-5, atol: 1e-5 } : TOL.float64;
        const [x, xv] = make(rows * D, [3, 13, D], d);
        const [r] = make(rows * D, [3, 13, D], d);
        const [w, wv] = make(D, [D], d);
        const [b, bv] = make(D, [D], d);
        assertClose(vals(fusedLayerNorm(x, w, b, { eps: 1e-5 })), refNorm(xv, D, wv, bv, 1e-5, false), tol, `layerNorm ${d}`);
        assertClose(vals(fusedLayerNorm(x, w)), refNorm(xv, D, wv, null, 1e-5, false), tol, `layerNorm no bias ${d}`);
        assertClose(vals(fusedRmsNorm(x, w, { eps: 1e-6 })), refNorm(xv, D, wv, null, 1e-6, true), tol, `rmsNorm ${d}`);
        const ln = fusedLayerNorm(x, w, b, { residual: r });
        const sv = vals(ln.sum); // the residual stream as stored (rounded in bf16): what is normalised
        assertClose(sv, vals(x.add(r)), TOL[d], `layerNorm sum ${d}`);
        assertClose(vals(ln.out), refNorm(sv, D, wv, bv, 1e-5, false), tol, `layerNorm residual ${d}`);
        const rn = fusedRmsNorm(x, w, { residual: r }); // eps: rmsNorm's default, 1e-6
        assertClose(vals(rn.out), refNorm(vals(rn.sum), D, wv, null, 1e-6, true), tol, `rmsNorm residual ${d}`);
      });
    }
});

describeDevices('fused RoPE against the float64 reference', () => {
  for (const d of DTYPES)
    for (const pairing of ['half', 'interleaved'] as const) {
      it(`${pairing}, ${d}, [2, 3, 7, 40], offset 5, full and partial rotary dims`, () => {
        const shape = [2, 3, 7, 40];
        const [x, xv] = make(2 * 3 * 7 * 40, shape, d);
        const tol = d === 'bfloat16' ? { rtol: 8e-3, atol: 2e-2 } : d === 'float32' ? { rtol: 1e-5, atol: 1e-6 } : TOL.float64;
        assertClose(vals(fusedRope(x, { pairing, offset: 5 })), refRope(xv, shape, 10000, pairing, 5), tol, `rope ${pairing} ${d}`);
        assertClose(vals(fusedRope(x, { pairing, offset: 0, base: 500, rotaryDims: 24 })), refRope(xv, shape, 500, pairing, 0, 24), tol,
          `rope ${pairing} rotaryDims 24 ${d}`);
      });
    }
  it('the default pairing is half (GPT-NeoX) and positions start at 0', () => {
    const [x, xv] = make(1 * 1 * 5 * 8, [1, 1, 5, 8], 'float64');
    assertClose(vals(fusedRope(x)), refRope(xv, [1, 1, 5, 8], 10000, 'half', 0), TOL.float64);
  });
});

describeDevices('cross-entropy z-loss against the float64 reference', () => {
  for (const d of ['float32', 'float64'] as const)
    it(`${d}, mean and none, with an ignored row`, () => {
      const N = 11, V = 203;
      const [x, xv] = make(N * V, [N, V], d, 4);
      const tg = Array.from({ length: N }, (_, i) => (i === 4 ? -100 : Math.floor(rnd() * V)));
      const t = tensor(Int32Array.from(tg), [N], 'int32');
      const tol = d === 'float32' ? { rtol: 1e-6, atol: 1e-6 } : TOL.float64;
      assertClose(vals(crossEntropy(x, t, { zLoss: 1e-2 })), refCrossEntropyZ(xv, V, tg, 1e-2), tol, 'z-loss mean');
      assertClose(vals(crossEntropy(x, t, { zLoss: 0.5, reduction: 'none' })), refCrossEntropyZ(xv, V, tg, 0.5, -100, 'none'), tol, 'z-loss none');
      assertClose(vals(crossEntropy(x, t, { zLoss: 0 })), refCrossEntropyZ(xv, V, tg, 0), tol, 'z-loss 0');
    });
});

describeDevices('gradcheck of every fused backward (float64)', () => {
  const f64 = (shape: number[], scale = 1): Tensor => make(shape.reduce((a, b) => a * b, 1), shape, 'float64', scale)[0].setRequiresGrad();
  it('activations, plain and gated', () => {
    for (const kind of ['relu', 'gelu', 'swish'] as const) {
      const r = gradcheck((x) => fusedActivation(x, kind), [f64([3, 7], 3)]);
      expect(r.failures, kind).toEqual([]);
    }
    for (const kind of ['glu', 'geglu', 'swiglu', 'reglu'] as const) {
      const r = gradcheck((x) => fusedGatedActivation(x, kind), [f64([3, 2 * 5], 3)]);
      expect(r.failures, kind).toEqual([]);
    }
  });
  it('layerNorm and rmsNorm, with and without bias and residual', () => {
    const D = 9;
    const x = f64([2, 3, D]), r = f64([2, 3, D]), w = f64([D]), b = f64([D]);
    expect(gradcheck((x, w, b) => fusedLayerNorm(x, w, b), [x, w, b]).failures).toEqual([]);
    expect(gradcheck((x, w) => fusedLayerNorm(x, w), [x, w]).failures).toEqual([]);
    expect(gradcheck((x, w) => fusedRmsNorm(x, w), [x, w]).failures).toEqual([]);
    // Both outputs feed the checked function, so the residual stream's own gradient is checked too.
    expect(gradcheck((x, r, w, b) => {
      const { out, sum } = fusedLayerNorm(x, w, b, { residual: r });
      return out.add(sum.mul(0.37));
    }, [x, r, w, b]).failures).toEqual([]);
    expect(gradcheck((x, r, w) => {
      const { out, sum } = fusedRmsNorm(x, w, { residual: r, eps: 1e-6 });
      return out.add(sum.mul(-0.61));
    }, [x, r, w]).failures).toEqual([]);
  });
  it('rope, both pairings, partial rotary dims, offset', () => {
    for (const pairing of ['half', 'interleaved'] as const) {
      expect(gradcheck((x) => fusedRope(x, { pairing, offset: 3 }), [f64([2, 2, 5, 8])]).failures).toEqual([]);
      expect(gradcheck((x) => fusedRope(x, { pairing, rotaryDims: 4 }), [f64([1, 2, 3, 10])]).failures).toEqual([]);
    }
  });
  it('cross-entropy with z-loss (mean and none)', () => {
    const t = tensor(Int32Array.from([3, -100, 0, 6, 2]), [5], 'int32');
    expect(gradcheck((x) => crossEntropy(x, t, { zLoss: 0.1 }), [f64([5, 7], 3)]).failures).toEqual([]);
    expect(gradcheck((x) => crossEntropy(x, t, { zLoss: 0.3, reduction: 'none' }), [f64([5, 7], 3)]).failures).toEqual([]);
  });
});

describe('bad input', () => {
  const x32 = tensor(Float32Array.from(data(24)), [2, 3, 4], 'float32');
  it('activations', () => {
    assertThrows(() => fusedGatedActivation(tensor(Float32Array.from(data(10)), [2, 5]), 'swiglu'), ShapeError, 'swiglu', '5');
    assertThrows(() => fusedActivation(x32, 'tanh' as never), ValueError, 'fusedActivation', 'tanh');
    assertThrows(() => fusedGatedActivation(x32, 'gelu' as never), ValueError, 'fusedGatedActivation', 'gelu');
    // errors name the function called, not the kernel
    assertThrows(() => fusedActivation(x32.astype('float16'), 'gelu'), DTypeError, /^fusedActivation: /, 'float16');
    assertThrows(() => fusedActivation(tensor(Int32Array.from([1, 2]), [2], 'int32'), 'relu'), DTypeError, /^fusedActivation: /, 'int32');
    assertThrows(() => fusedActivation([1, 2] as never, 'relu'), ArgumentTypeError, 'fusedActivation');
  });
  it('norms', () => {
    const w = tensor(Float32Array.from(data(4)), [4]);
    assertThrows(() => fusedLayerNorm(x32, tensor(Float32Array.from(data(3)), [3])), ShapeError, 'layerNorm', 'weight', '[4]', '[3]');
    assertThrows(() => fusedRmsNorm(x32, w.astype('float64')), DTypeError, 'rmsNorm', 'float64', 'float32');
    assertThrows(() => fusedRmsNorm(x32, w, { residual: tensor(Float32Array.from(data(4)), [4]) }), ShapeError, 'rmsNorm', 'residual', '[2, 3, 4]');
    assertThrows(() => fusedLayerNorm(x32, w, null, { eps: -1 }), ValueError, 'fusedLayerNorm', 'eps', '-1');
    assertThrows(() => fusedLayerNorm(x32, w, null, { epsilon: 1 } as never), ValueError, 'fusedLayerNorm', 'epsilon');
  });
  it('rope', () => {
    assertThrows(() => fusedRope(x32), ShapeError, 'rope', '[B, H, T, D]', '[2, 3, 4]');
    const x4 = x32.reshape([1, 2, 3, 4]);
    assertThrows(() => fusedRope(x4, { rotaryDims: 3 }), ValueError, 'rope', 'rotary dims', '3');
    assertThrows(() => fusedRope(x4, { rotaryDims: 6 }), ValueError, 'rope', '6');
    assertThrows(() => fusedRope(x4, { pairing: 'neox' as never }), ValueError, 'fusedRope', 'neox');
    assertThrows(() => fusedRope(x4, { base: 0 }), ValueError, 'fusedRope', 'base');
    assertThrows(() => fusedRope(tensor(Float32Array.from(data(5)), [1, 1, 1, 5])), ShapeError, 'rope', 'D = 5');
  });
  it('z-loss', () => {
    const t = tensor(Int32Array.from([1, 0]), [2], 'int32');
    const lg = tensor(Float32Array.from(data(6)), [2, 3]);
    assertThrows(() => crossEntropy(lg, t, { zLoss: -0.1 }), ValueError, 'crossEntropy', 'zLoss', '-0.1');
    assertThrows(() => crossEntropy(lg, t, { zLoss: NaN }), ValueError, 'crossEntropy', 'zLoss');
  });
});
