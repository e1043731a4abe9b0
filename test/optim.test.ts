import { describe, expect, it } from 'vitest';

import { crossEntropy, DTypeError, linear, ShapeError, tanh, tensor, tidy, ValueError, type Tensor } from '../lib/index.js';
import {
  Adam, Adam8bit, AdamW, AdamW8bit, clipGradNorm, constantSchedule, gnbHessian, inverseSqrtSchedule, Lion, paramGroups, quant8Map, SGD,
  SophiaG, warmupDecaySchedule, type Optimizer,
} from '../lib/optim/index.js';
import {
  adam8bitRef, adamRef, dynamicMapRef, emaRef, lionRef, sgdRef, sophiaRef, type Adam8State,
} from './reference/optim.js';
import { mulberry32 as rng, normals } from './reference/prng.js';


const SIZES = [4097, 5000, 300];

function makeParams(seed: number, sizes = SIZES): Tensor<'float32'>[] {
  return sizes.map((n, i) => tensor(normals(n, seed + i), n === 5000 ? [50, 100] : [n]).setRequiresGrad());
}
function setGrads(ps: Tensor[], seed: number, scale = 1): Float32Array[] {
  return ps.map((p, i) => {
    p.zeroGrad();
    const g = normals(p.size, seed * 31 + i, scale);
    p.grad = tensor(g, [...p.shape]);
    return g;
  });
}
function maxRelErr(a: ArrayLike<number>, e: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < e.length; i++) worst = Math.max(worst, Math.abs(a[i]! - e[i]!) / (1 + Math.abs(e[i]!)));
  return worst;
}

describe('optimizers against float64 references (20 steps, sizes 4097, [50,100], 300)', () => {
  it('SGD: momentum, Nesterov, dampening, weight decay', () => {
    const ps = makeParams(10);
    const opt = new SGD(
      [
        { params: [ps[0]!], momentum: 0.9, nesterov: true, weightDecay: 0.01 },
        { params: [ps[1]!], momentum: 0.8, dampening: 0.1 },
        { params: [ps[2]!], weightDecay: 0.05 },
      ],
      { lr: 0.05 },
    );
    const w = ps.map((p) => Float64Array.from(p.dataSync()));
    const buf = ps.map((p) => new Float64Array(p.size));
    const hp = [
      { lr: 0.05, wd: 0.01, momentum: 0.9, dampening: 0, nesterov: true },
      { lr: 0.05, wd: 0, momentum: 0.8, dampening: 0.1, nesterov: false },
      { lr: 0.05, wd: 0.05, momentum: 0, dampening: 0, nesterov: false },
    ];
    for (let s = 1; s <= 20; s++) {
      const gs = setGrads(ps, s);
      expect(opt.step()).toBe(true);
      gs.forEach((g, i) => sgdRef(w[i]!, g, buf[i]!, { ...hp[i]!, step: s }));
    }
    ps.forEach((p, i) => expect(maxRelErr(p.dataSync(), w[i]!), `group ${i}`).toBeLessThan(2e-6));
  });

  for (const decoupled of [false, true]) {
    it(`${decoupled ? 'AdamW' : 'Adam'} with bias correction`, () => {
      const ps = makeParams(20);
      const opts = { lr: 0.01, weightDecay: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8 };
      const opt = decoupled ? new AdamW(ps, opts) : new Adam(ps, opts);
      const w = ps.map((p) => Float64Array.from(p.dataSync()));
      const m = ps.map((p) => new Float64Array(p.size));
      const v = ps.map((p) => new Float64Array(p.size));
      for (let s = 1; s <= 20; s++) {
        const gs = setGrads(ps, 100 + s);
        opt.step();
        gs.forEach((g, i) => adamRef(w[i]!, g, m[i]!, v[i]!, { lr: 0.01, wd: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, decoupled, step: s }));
      }
      ps.forEach((p, i) => expect(maxRelErr(p.dataSync(), w[i]!)).toBeLessThan(1e-5));
      const sd = opt.stateDict();
      expect(maxRelErr(sd.state[0]![0]!.tensors.expAvg!.data, m[0]!)).toBeLessThan(1e-4);
    });
  }

  it('AdamW on bfloat16 parameters with float32 master weights', () => {
    const p = tensor(normals(4097, 7), [4097], 'bfloat16').setRequiresGrad();
    const opt = new AdamW([p], { lr: 0.01 });
    const w = Float64Array.from(p.dataSync());
    const m = new Float64Array(4097);
    const v = new Float64Array(4097);
    for (let s = 1; s <= 20; s++) {
      p.zeroGrad();
      p.grad = tensor(normals(4097, 300 + s), [4097], 'bfloat16');
      const g = p.grad.dataSync();
      opt.step();
      adamRef(w, g, m, v, { lr: 0.01, wd: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, decoupled: true, step: s });
    }
    const master = opt.stateDict().state[0]![0]!.tensors.master!.data;
    expect(maxRelErr(master, w)).toBeLessThan(1e-5);
    // the parameter is the master rounded to bfloat16
    const bf = tensor(Float32Array.from(master), [4097]).astype('bfloat16').dataSync();
    expect(Array.from(p.dataSync())).toEqual(Array.from(bf));
    expect(opt.stateBytes()).toBe(4097 * 12);
  });

  it('Lion', () => {
    const ps = makeParams(30);
    const opt = new Lion(ps, { lr: 3e-3, weightDecay: 0.3 });
    const w = ps.map((p) => Float64Array.from(p.dataSync()));
    const m = ps.map((p) => new Float64Array(p.size));
    for (let s = 1; s <= 20; s++) {
      const gs = setGrads(ps, 200 + s);
      opt.step();
      gs.forEach((g, i) => lionRef(w[i]!, g, m[i]!, { lr: 3e-3, wd: 0.3, beta1: 0.9, beta2: 0.99 }));
    }
    ps.forEach((p, i) => expect(maxRelErr(p.dataSync(), w[i]!)).toBeLessThan(1e-5));
  });

  it('SophiaG with Hessian EMA updates every 10 steps', () => {
    const ps = makeParams(40);
    const opt = new SophiaG(ps, { lr: 1e-3, rho: 0.04, weightDecay: 0.1 });
    const w = ps.map((p) => Float64Array.from(p.dataSync()));
    const m = ps.map((p) => new Float64Array(p.size));
    const h = ps.map((p) => new Float64Array(p.size));
    for (let s = 1; s <= 20; s++) {
      const gs = setGrads(ps, 400 + s, 0.1);
      opt.step();
      gs.forEach((g, i) => sophiaRef(w[i]!, g, m[i]!, h[i]!, { lr: 1e-3, wd: 0.1, beta1: 0.965, rho: 0.04, eps: 1e-12 }));
      if (opt.wantsHessian()) {
        const est = ps.map((p, i) => normals(p.size, 900 + 7 * s + i).map((x) => x * x * 10));
        opt.updateHessian(est.map((e, i) => tensor(e, [...ps[i]!.shape])));
        est.forEach((e, i) => emaRef(h[i]!, e, 0.99));
      }
    }
    expect(opt.hessianUpdates).toBe(2);
    ps.forEach((p, i) => expect(maxRelErr(p.dataSync(), w[i]!)).toBeLessThan(1e-5));
  });
});

describe('8-bit Adam (bitsandbytes maps, blocks of 256)', () => {
  it('builds the dynamic maps by the published construction', () => {
    for (const signed of [true, false]) {
      const got = quant8Map(signed);
      const ref = dynamicMapRef(signed);
      expect(Array.from(got)).toEqual(Array.from(ref));
      expect(new Set(got).size).toBe(256);
      expect(got[255]).toBe(1);
    }
    expect(quant8Map(true)[0]).toBeCloseTo(-0.99297, 4);
    expect(quant8Map(false)[0]).toBe(0);
  });

  for (const Cls of [Adam8bit, AdamW8bit]) {
    it(`${Cls.name}: identical codes each step (ties within float rounding counted), 20 steps`, () => {
      const ps = makeParams(50);
      const decoupled = Cls === AdamW8bit;
      const hp = { lr: 1e-2, wd: 0.05, beta1: 0.9, beta2: 0.99, eps: 1e-8, decoupled };
      const opt = new Cls(ps, { lr: hp.lr, weightDecay: hp.wd, beta1: hp.beta1, beta2: hp.beta2, eps: hp.eps });
      const mapS = dynamicMapRef(true);
      const mapU = dynamicMapRef(false);
      let ties = 0;
      let compared = 0;
      const w300 = Float64Array.from(ps[2]!.dataSync());
      const m300 = new Float64Array(300);
      const v300 = new Float64Array(300);
      for (let s = 1; s <= 20; s++) {
        const gs = setGrads(ps, 500 + s);
        const before = opt.stateDict();
        const w0 = ps.map((p) => Float64Array.from(p.dataSync()));
        expect(opt.step()).toBe(true);
        const after = opt.stateDict();
        for (const i of [0, 1]) {
          const st = before.state[0]![i]!.tensors;
          const ref: Adam8State = {
            c1: new Uint8Array(st.expAvgCodes!.data), c2: new Uint8Array(st.expAvgSqCodes!.data),
            a1: Float64Array.from(st.expAvgAbsmax!.data), a2: Float64Array.from(st.expAvgSqAbsmax!.data),
          };
          const { near1, near2 } = adam8bitRef(w0[i]!, gs[i]!, ref, { ...hp, step: s }, mapS, mapU);
          const got = after.state[0]![i]!.tensors;
          const c1 = got.expAvgCodes!.data;
          const c2 = got.expAvgSqCodes!.data;
          for (let k = 0; k < c1.length; k++) {
            compared += 2;
            for (const [a, e, near] of [[c1[k]!, ref.c1[k]!, near1[k]!], [c2[k]!, ref.c2[k]!, near2[k]!]] as const) {
              if (a === e) continue;
              // a code of difference only where the value lies within float rounding of the midpoint
              expect(Math.abs(a - e)).toBe(1);
              expect(near).toBeLessThan(5e-6);
              ties++;
            }
          }
          expect(maxRelErr(got.expAvgAbsmax!.data, ref.a1)).toBeLessThan(1e-5);
          expect(maxRelErr(got.expAvgSqAbsmax!.data, ref.a2)).toBeLessThan(1e-5);
          expect(maxRelErr(ps[i]!.dataSync(), w0[i]!)).toBeLessThan(1e-5);
        }
        // the 300-element tensor keeps float32 state and follows plain Adam
        adamRef(w300, gs[2]!, m300, v300, { ...hp, step: s });
      }
      expect(maxRelErr(ps[2]!.dataSync(), w300)).toBeLessThan(1e-5);
      expect(ties / compared).toBeLessThan(1e-3);
      console.log(`${Cls.name}: ${ties} of ${compared} codes one apart at a midpoint tie`);
    });
  }

  it('keeps float32 state below 4096 elements and for overridden parameters', () => {
    const [a, b, c] = makeParams(60);
    const opt = new AdamW8bit([a!, b!, c!], { fp32Params: [b!] });
    expect(opt.stateBytes(a!) / a!.size).toBeLessThan(2.1);
    expect(opt.stateBytes(b!)).toBe(5000 * 8);
    expect(opt.stateBytes(c!)).toBe(300 * 8);
  });
});

describe('state round trip, state bytes, non-finite gradients', () => {
  const makers: [string, (ps: Tensor[]) => Optimizer<any>][] = [
    ['SGD', (ps) => new SGD(ps, { lr: 0.01, momentum: 0.9, nesterov: true })],
    ['AdamW', (ps) => new AdamW(ps, { lr: 1e-3 })],
    ['AdamW8bit', (ps) => new AdamW8bit(ps, { lr: 1e-3 })],
    ['Lion', (ps) => new Lion(ps, { lr: 1e-4 })],
    ['SophiaG', (ps) => new SophiaG(ps, { lr: 1e-4 })],
  ];
  for (const [name, make] of makers) {
    it(`${name}: stateDict -> fresh optimizer -> loadStateDict gives an identical next step`, () => {
      const ps = makeParams(70);
      const opt = make(ps);
      for (let s = 1; s <= 3; s++) {
        setGrads(ps, 700 + s);
        opt.step();
      }
      if (opt instanceof SophiaG) opt.updateHessian(ps.map((p, i) => tensor(normals(p.size, 77 + i).map((x) => x * x), [...p.shape])));
      const sd = opt.stateDict();
      const ps2 = ps.map((p) => p.detach().clone().setRequiresGrad());
      const opt2 = make(ps2);
      opt2.loadStateDict(sd);
      expect(opt2.stepCount).toBe(3);
      const g1 = setGrads(ps, 800);
      ps2.forEach((p, i) => (p.grad = tensor(g1[i]!, [...p.shape])));
      opt.step();
      opt2.step();
      ps.forEach((p, i) => expect(Array.from(ps2[i]!.dataSync())).toEqual(Array.from(p.dataSync())));
      const a = opt.stateDict();
      const b = opt2.stateDict();
      for (let i = 0; i < ps.length; i++)
        for (const k of Object.keys(a.state[0]![i]!.tensors)) expect(Array.from(b.state[0]![i]!.tensors[k]!.data)).toEqual(Array.from(a.state[0]![i]!.tensors[k]!.data));
    });
  }

  it('reports state bytes per parameter: AdamW 8, Adam8bit <= 2.1, Lion 4, SGD-momentum 4', () => {
    const big = () => [tensor(normals(65536, 1), [256, 256]).setRequiresGrad()];
    const per = (o: Optimizer<any>) => o.stateBytes() / 65536;
    expect(per(new AdamW(big()))).toBe(8);
    expect(per(new Adam8bit(big()))).toBeLessThanOrEqual(2.1);
    expect(per(new Lion(big()))).toBe(4);
    expect(per(new SGD(big(), { momentum: 0.9 }))).toBe(4);
    expect(per(new SGD(big()))).toBe(0);
    expect(per(new SophiaG(big()))).toBe(8);
  });

  for (const bad of [NaN, Infinity]) {
    it(`skips and counts a step whose gradients hold ${bad}`, () => {
      const ps = makeParams(80);
      const opt = new AdamW8bit(ps);
      setGrads(ps, 1);
      opt.step();
      const before = ps.map((p) => Array.from(p.dataSync()));
      const sdBefore = opt.stateDict();
      const gs = setGrads(ps, 2);
      gs[1]![1234] = bad;
      ps[1]!.grad = tensor(gs[1]!, [...ps[1]!.shape]);
      expect(opt.step()).toBe(false);
      expect(opt.skippedSteps).toBe(1);
      expect(opt.stepCount).toBe(1);
      ps.forEach((p, i) => expect(Array.from(p.dataSync())).toEqual(before[i]));
      expect(Array.from(opt.stateDict().state[0]![0]!.tensors.expAvgCodes!.data)).toEqual(Array.from(sdBefore.state[0]![0]!.tensors.expAvgCodes!.data));
      // clipping sees it too, scales nothing, and the step is still skipped
      const norm = clipGradNorm(ps, 1);
      expect(Number.isFinite(norm)).toBe(false);
      expect(opt.step()).toBe(false);
      expect(opt.skippedSteps).toBe(2);
    });
  }
});

describe('clipGradNorm', () => {
  it('returns the total norm (double) and scales in place above maxNorm', () => {
    const ps = makeParams(90);
    const gs = setGrads(ps, 3);
    let ss = 0;
    for (const g of gs) for (const x of g) ss += x * x;
    const ref = Math.sqrt(ss);
    const norm = clipGradNorm(ps, 10);
    expect(Math.abs(norm - ref) / ref).toBeLessThan(1e-12);
    const coef = 10 / (ref + 1e-6);
    ps.forEach((p, i) => expect(maxRelErr(p.grad!.dataSync(), Array.from(gs[i]!, (x) => x * coef))).toBeLessThan(1e-6));
    // below the max: unchanged
    const g2 = setGrads(ps, 4);
    expect(clipGradNorm(ps, 1e6)).toBeGreaterThan(0);
    expect(Array.from(ps[0]!.grad!.dataSync())).toEqual(Array.from(g2[0]!));
    expect(() => clipGradNorm(ps, -1)).toThrow(ValueError);
  });
});

describe('bad input', () => {
  it('a parameter without a gradient names the parameter', () => {
    const ps = makeParams(95);
    const opt = new AdamW(ps);
    setGrads(ps, 1);
    ps[1]!.zeroGrad();
    expect(() => opt.step()).toThrow(/group 0 parameter 1 \(shape \[50, 100\]\) has no gradient/);
    expect(() => opt.step()).toThrow(ValueError);
  });
  it('negative lr, unknown option, wrong types', () => {
    const ps = makeParams(96);
    expect(() => new AdamW(ps, { lr: -1 })).toThrow(/lr must be >= 0, got -1/);
    expect(() => new Lion(ps, { betas: [0.9, 0.99] } as never)).toThrow(/unknown option 'betas'/);
    expect(() => new AdamW(ps, { beta2: 1 })).toThrow(/beta2 must be < 1, got 1/);
    expect(() => new SGD([ps[0]!.astype('int32') as never])).toThrow(DTypeError);
    const opt = new AdamW(ps);
    opt.paramGroups[0]!.lr = -0.5;
    setGrads(ps, 2);
    expect(() => opt.step()).toThrow(/lr must be >= 0, got -0.5/);
  });
  it('mismatched state on load', () => {
    const ps = makeParams(97);
    const opt = new AdamW(ps);
    setGrads(ps, 1);
    opt.step();
    const sd = opt.stateDict();
    expect(() => new Lion(makeParams(1)).loadStateDict(sd)).toThrow(/the state is from AdamW, not Lion/);
    expect(() => new AdamW(makeParams(1, [4097, 5000])).loadStateDict(sd)).toThrow(/group 0 of the state has 3 parameters, this optimizer's has 2/);
    expect(() => new AdamW(makeParams(1, [4097, 5001, 300])).loadStateDict(sd)).toThrow(ShapeError);
    expect(() => new AdamW8bit(makeParams(1)).loadStateDict({ ...sd, optimizer: 'AdamW8bit' })).toThrow(/saved state holds \{expAvg, expAvgSq\}, this optimizer keeps \{expAvgAbsmax/);
    const broken = opt.stateDict();
    broken.state[0]![0]!.tensors.expAvg!.data = new Float32Array(10);
    expect(() => new AdamW(makeParams(1)).loadStateDict(broken)).toThrow(/saved 'expAvg' is float32 \[4097\], expected float32 \[4097\]|expAvg/);
  });
  it('native layer checks shapes and states itself', async () => {
    const { native } = await import('../lib/native.js');
    const [p] = makeParams(98, [300]);
    const g = tensor(normals(299, 1), [299]);
    const hyper = { lr: 1e-4, weightDecay: 0, beta1: 0.9, beta2: 0.99 };
    expect(() => native.lionStep([{ hyper, params: [p!.handle], grads: [g.handle], masters: [null], states: [[g.handle]] }])).toThrow(ShapeError);
    expect(() => native.lionStep([{ hyper, params: [p!.handle], grads: [null], masters: [null], states: [[]] }])).toThrow(/grads\[0\] is missing|no gradient/);
  });
});

describe('schedules and groups', () => {
  it('schedules are pure functions of the step', () => {
    expect(constantSchedule(0.1)(123)).toBe(0.1);
    const cos = warmupDecaySchedule({ lr: 1, warmupSteps: 10, totalSteps: 110, minLr: 0.1 });
    expect(cos(0)).toBeCloseTo(0.1);
    expect(cos(9)).toBe(1);
    expect(cos(60)).toBeCloseTo(0.55);
    expect(cos(110)).toBeCloseTo(0.1);
    expect(cos(1000)).toBeCloseTo(0.1);
    const lin = warmupDecaySchedule({ lr: 1, warmupSteps: 0, totalSteps: 100, decay: 'linear' });
    expect(lin(50)).toBeCloseTo(0.5);
    const inv = inverseSqrtSchedule({ lr: 1, warmupSteps: 4 });
    expect(inv(3)).toBe(1);
    expect(inv(15)).toBeCloseTo(0.5);
    expect(() => cos(-1)).toThrow(ValueError);
  });
  it('paramGroups puts norms, biases and embeddings in a no-decay group', () => {
    const t = (shape: number[]) => tensor(normals(shape.reduce((a, b) => a * b, 1), 5), shape);
    const groups = paramGroups(
      { 'h.0.attn.weight': t([4, 4]), 'h.0.attn.bias': t([4]), 'h.0.ln_1.weight': t([4]), 'wte.weight': t([10, 4]), 'h.0.norm2.weight': t([4, 4]), 'lm_head.weight': t([10, 4]) },
      { weightDecay: 0.1 },
    );
    expect(groups[0]!.names).toEqual(['h.0.attn.weight', 'lm_head.weight']);
    expect(groups[0]!.weightDecay).toBe(0.1);
    expect(groups[1]!.names).toEqual(['h.0.attn.bias', 'h.0.ln_1.weight', 'wte.weight', 'h.0.norm2.weight']);
    expect(groups[1]!.weightDecay).toBe(0);
    const opt = new AdamW(groups);
    expect(opt.paramGroups[1]!.weightDecay).toBe(0);
  });
});

describe('small-model comparison: a 2-layer MLP (64 -> 128 -> 32 classes, 1024 samples, 25% noisy labels), 200 full-batch steps', () => {
  it('every optimizer trains; final losses reported', () => {
    const N = 1024;
    const X = tensor(normals(N * 64, 4242), [N, 64]);
    // labels from a fixed random teacher, so the task is learnable
    const T = normals(64 * 32, 4343);
    const xs = X.dataSync();
    const labels = new Int32Array(N);
    for (let r = 0; r < N; r++) {
      let best = -Infinity;
      for (let c = 0; c < 32; c++) {
        let s = 0;
        for (let k = 0; k < 64; k++) s += xs[r * 64 + k]! * T[k * 32 + c]!;
        if (s > best) [best, labels[r]] = [s, c];
      }
    }
    const noise = rng(4444); // 25% of the labels replaced at random: a loss floor well above zero
    for (let r = 0; r < N; r++) if (noise() < 0.25) labels[r] = Math.floor(noise() * 32);
    const y = tensor(labels, [N]);
    const init = () => [
      tensor(normals(128 * 64, 1).map((x) => x / 8), [128, 64]).setRequiresGrad(),
      tensor(new Float32Array(128), [128]).setRequiresGrad(),
      tensor(normals(32 * 128, 2).map((x) => x / Math.sqrt(128)), [32, 128]).setRequiresGrad(),
      tensor(new Float32Array(32), [32]).setRequiresGrad(),
    ];
    const logits = (ps: Tensor[]) => linear(tanh(linear(X, ps[0]!, ps[1]!)), ps[2]!, ps[3]!);
    const runs: [string, (ps: Tensor[]) => Optimizer<any>][] = [
      ['AdamW', (ps) => new AdamW(ps, { lr: 3e-3, weightDecay: 0.01 })],
      ['AdamW8bit', (ps) => new AdamW8bit(ps, { lr: 3e-3, weightDecay: 0.01 })],
      ['Lion', (ps) => new Lion(ps, { lr: 1e-3, weightDecay: 0.03 })],
      ['SophiaG', (ps) => new SophiaG(ps, { lr: 3e-3, weightDecay: 0.01, rho: 0.04 })],
      ['SGD', (ps) => new SGD(ps, { lr: 0.1, momentum: 0.9 })],
    ];
    const final: Record<string, number> = {};
    let initial = 0;
    for (const [name, make] of runs) {
      const ps = init();
      const opt = make(ps);
      let loss = 0;
      for (let s = 0; s < 200; s++) {
        loss = tidy(() => {
          const l = crossEntropy(logits(ps), y);
          l.backward();
          return l.item();
        });
        if (s === 0) initial = loss;
        opt.step();
        opt.zeroGrad();
        if (opt instanceof SophiaG && opt.wantsHessian()) {
          const est = gnbHessian(ps, () => logits(ps), { seed: s });
          opt.updateHessian(est);
          est.forEach((e) => e.dispose());
        }
      }
      final[name] = tidy(() => crossEntropy(logits(ps), y).item());
      opt.dispose();
    }
    console.log(`MLP final losses (initial ${initial.toFixed(4)}):`, Object.entries(final).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', '));
    for (const v of Object.values(final)) {
      expect(Number.isFinite(v)).toBe(true);
      expect(v).toBeLessThan(initial * 0.7);
    }
  });
});
