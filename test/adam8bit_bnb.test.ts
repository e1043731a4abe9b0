// 8-bit Adam against bitsandbytes' rules (issue 14, defect 8): the first moment keeps its sign when it
// rounds to the code of 0, on every CPU tier alike; and bitsandbytes' decoupled weight decay on offer.
import { afterAll, describe, expect, it } from 'vitest';

import { ArgumentTypeError, cpuInfo, setCpuTier, tensor, ValueError, type Tensor } from '../lib/index.js';
import { Adam8bit, AdamW8bit, quant8Map, type Optimizer } from '../lib/optim/index.js';
import { adam8bitRef, dynamicMapRef, type Adam8State } from './reference/optim.js';
import { BASE_SEED, Rng } from './reference/prng.js';

const N = 2 * 4096 + 300; // 34 blocks, the last one short
const BLOCKS = Math.ceil(N / 256);
const mapS = dynamicMapRef(true);
const mapU = dynamicMapRef(false);
const ZERO = mapS.indexOf(0);

// Per block of 256: one gradient of size ~1 (it sets the block's absmax) and the rest of size 3e-7 to 1e-6
// of either sign, so that |m| / absmax falls below or near the smallest code (5.5e-7) and many first moments
// round to the code of 0; a few of size 1e-3.
function grads(rng: Rng): Float32Array {
  const g = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    const scale = i % 256 === 0 ? 1 : i % 7 === 0 ? 1e-3 : i % 2 ? 3e-7 : 1e-6;
    g[i] = rng.uniform(-1, 1) * scale;
  }
  return g;
}

// The state before the first step: every code that of 0, absmax 0.
const fresh = (): Adam8State => ({ c1: new Uint8Array(N).fill(ZERO), c2: new Uint8Array(N).fill(mapU.indexOf(0)), a1: new Float64Array(BLOCKS), a2: new Float64Array(BLOCKS) });

function stateOf(opt: Optimizer<never>): Adam8State {
  const t = opt.stateDict().state[0]![0]!.tensors;
  return {
    c1: new Uint8Array(t.expAvgCodes!.data), c2: new Uint8Array(t.expAvgSqCodes!.data),
    a1: Float64Array.from(t.expAvgAbsmax!.data), a2: Float64Array.from(t.expAvgSqAbsmax!.data),
  };
}

const tiers = (['avx512', 'avx2', 'scalar'] as const).filter((t) => {
  const f = cpuInfo();
  return t === 'scalar' || (t === 'avx2' ? f.avx2 && f.fma : f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq);
});
afterAll(() => setCpuTier(null));

describe('8-bit Adam: the first moment keeps its sign (bitsandbytes)', () => {
  it('a negative moment that rounds to 0 takes the smallest negative code, a positive one stays 0: 8 steps against the reference', () => {
    expect(mapS[ZERO - 1]!).toBeLessThan(0);
    const rng = new Rng('adam8bit sign');
    const p = tensor(rng.array(N, -1, 1).map(Math.fround), [N]).setRequiresGrad();
    const hp = { lr: 1e-3, wd: 0, beta1: 0.9, beta2: 0.99, eps: 1e-8, decoupled: false };
    const opt = new Adam8bit([p], { lr: hp.lr, beta1: hp.beta1, beta2: hp.beta2, eps: hp.eps });
    let moved = 0, keptZero = 0, ties = 0;
    for (let s = 1; s <= 8; s++) {
      const g = grads(rng);
      p.grad = tensor(g, [N]);
      const ref = s === 1 ? fresh() : stateOf(opt as never);
      const w = Float64Array.from(p.dataSync());
      expect(opt.step()).toBe(true);
      // The moments as the reference recomputes them, to count where the rule applies.
      const m = Float64Array.from({ length: N }, (_, i) => hp.beta1 * mapS[ref.c1[i]!]! * ref.a1[Math.floor(i / 256)]! + (1 - hp.beta1) * g[i]!);
      const { near1 } = adam8bitRef(w, g, ref, { ...hp, step: s }, mapS, mapU);
      const got = stateOf(opt as never);
      for (let i = 0; i < N; i++) {
        if (ref.c1[i] === ZERO - 1 && m[i]! < 0 && Math.abs(m[i]! / ref.a1[Math.floor(i / 256)]!) < 2.7e-7) moved++;
        if (ref.c1[i] === ZERO && m[i]! > 0) keptZero++;
        // Equal codes; or m within float32 rounding of 0 (its sign is then the rounding's); or a midpoint tie.
        if (got.c1[i] === ref.c1[i] || Math.abs(m[i]!) < 1e-12) continue;
        // one code apart only where the value lies within float rounding of a midpoint
        expect(Math.abs(got.c1[i]! - ref.c1[i]!), `step ${s} [${i}] m ${m[i]} (LMF_TEST_SEED=${BASE_SEED})`).toBe(1);
        expect(near1[i]!, `step ${s} [${i}] m ${m[i]} (LMF_TEST_SEED=${BASE_SEED})`).toBeLessThan(5e-6);
        ties++;
      }
      // Never a negative moment stored as 0: its sign would be lost.
      for (let i = 0; i < N; i++) if (m[i]! < -1e-12 && got.c1[i] === ZERO) throw new Error(`step ${s} [${i}]: negative m ${m[i]} stored as 0`);
    }
    console.log(`Adam8bit sign rule: ${moved} negative moments kept off 0, ${keptZero} positive ones at 0, ${ties} midpoint ties`);
    expect(moved).toBeGreaterThan(500);
    expect(keptZero).toBeGreaterThan(500);
    expect(ties).toBeLessThan(N * 8 * 1e-3);
  });

  it('gives identical codes on every CPU tier (scalar loop and vector paths)', () => {
    const rng = new Rng('adam8bit sign tiers');
    const w0 = rng.array(N, -1, 1).map(Math.fround);
    const g = grads(rng);
    // One step from m = 0: m = 0.1·g rounds alike with or without fused multiply-adds, so codes must be identical.
    const run = (tier: (typeof tiers)[number]) => {
      setCpuTier(tier);
      const p = tensor(w0, [N]).setRequiresGrad();
      const opt = new AdamW8bit([p], { lr: 1e-3 });
      p.grad = tensor(g, [N]);
      opt.step();
      return Array.from(stateOf(opt as never).c1);
    };
    const scalar = run('scalar');
    expect(scalar.filter((c) => c === ZERO - 1).length).toBeGreaterThan(100);
    for (const tier of tiers) expect(run(tier), tier).toEqual(scalar);
  });
});

describe('8-bit Adam weight decay: L2 by default, decoupled (bitsandbytes) on request', () => {
  const hp = { lr: 1e-2, wd: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
  const rng = new Rng('adam8bit decay');
  const w0 = rng.array(N, -1, 1).map(Math.fround);
  const gs = Array.from({ length: 5 }, () => rng.array(N, -1, 1).map(Math.fround));
  // Five steps; each checked against the reference from the state the kernel held before it.
  const run = (make: (ps: Tensor[]) => Optimizer<never>, decoupled: boolean): [Float32Array, Adam8State] => {
    const p = tensor(w0, [N]).setRequiresGrad();
    const opt = make([p]);
    gs.forEach((g, s) => {
      const ref = s === 0 ? fresh() : stateOf(opt);
      const w = Float64Array.from(p.dataSync());
      p.grad = tensor(g, [N]);
      opt.step();
      adam8bitRef(w, g, ref, { ...hp, decoupled, step: s + 1 }, mapS, mapU);
      const got = p.dataSync();
      let worst = 0;
      for (let i = 0; i < N; i++) worst = Math.max(worst, Math.abs(got[i]! - w[i]!) / (1 + Math.abs(w[i]!)));
      expect(worst, `step ${s + 1}, decoupled ${decoupled}`).toBeLessThan(1e-5);
    });
    return [p.dataSync() as Float32Array, stateOf(opt)];
  };

  it('decoupledWeightDecay: true follows the decoupled reference and is AdamW8bit with the same decay; the default is L2', () => {
    const [wd, sd] = run((ps) => new Adam8bit(ps, { lr: hp.lr, weightDecay: hp.wd, decoupledWeightDecay: true }) as never, true);
    const [ww, sw] = run((ps) => new AdamW8bit(ps, { lr: hp.lr, weightDecay: hp.wd }) as never, true);
    const [wl] = run((ps) => new Adam8bit(ps, { lr: hp.lr, weightDecay: hp.wd }) as never, false);
    expect(Array.from(wd)).toEqual(Array.from(ww));
    expect(Array.from(sd.c1)).toEqual(Array.from(sw.c1));
    expect(wl.some((x, i) => x !== wd[i])).toBe(true);
  });

  it('rejects a non-boolean decoupledWeightDecay, and AdamW8bit without decoupled decay', () => {
    const p = tensor(new Float32Array(N).fill(0.5), [N]).setRequiresGrad();
    expect(() => new Adam8bit([p], { decoupledWeightDecay: 'yes' as never })).toThrow(ArgumentTypeError);
    expect(() => new Adam8bit([p], { decoupledWeightDecay: 'yes' as never })).toThrow(/Adam8bit\.constructor.*decoupledWeightDecay must be a boolean, got string/);
    expect(() => new AdamW8bit([p], { decoupledWeightDecay: false } as never)).toThrow(ValueError);
    expect(quant8Map(true)[ZERO]).toBe(0);
  });
});
