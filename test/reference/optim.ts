/**
 * Float64 references of the optimizers, written from the papers' update rules (and PyTorch's definitions
 * of SGD and Adam/AdamW), and of bitsandbytes' 8-bit dynamic map and blockwise quantisation.
 * Each function updates its arrays in place for one step.
 */

export interface SgdHp { lr: number; wd: number; momentum: number; dampening: number; nesterov: boolean; step: number }
/** PyTorch SGD: g' = g + wd·w; buf = g' (first step) or μ·buf + (1−τ)·g'; d = nesterov ? g' + μ·buf : buf; w −= lr·d. */
export function sgdRef(w: Float64Array, g: ArrayLike<number>, buf: Float64Array | null, h: SgdHp): void {
  for (let i = 0; i < w.length; i++) {
    let d = g[i]! + h.wd * w[i]!;
    if (buf && h.momentum !== 0) {
      buf[i] = h.step === 1 ? d : h.momentum * buf[i]! + (1 - h.dampening) * d;
      d = h.nesterov ? d + h.momentum * buf[i]! : buf[i]!;
    }
    w[i] = w[i]! - h.lr * d;
  }
}

export interface AdamHp { lr: number; wd: number; beta1: number; beta2: number; eps: number; decoupled: boolean; step: number }
/** Kingma & Ba with bias correction; Adam: L2 (g += wd·w); AdamW (Loshchilov & Hutter): w ·= 1 − lr·wd. */
export function adamRef(w: Float64Array, g: ArrayLike<number>, m: Float64Array, v: Float64Array, h: AdamHp): void {
  const bc1 = 1 - h.beta1 ** h.step;
  const bc2 = 1 - h.beta2 ** h.step;
  for (let i = 0; i < w.length; i++) {
    let gi = g[i]!;
    if (!h.decoupled) gi += h.wd * w[i]!;
    else w[i] = w[i]! * (1 - h.lr * h.wd);
    m[i] = h.beta1 * m[i]! + (1 - h.beta1) * gi;
    v[i] = h.beta2 * v[i]! + (1 - h.beta2) * gi * gi;
    w[i] = w[i]! - (h.lr / bc1) * (m[i]! / (Math.sqrt(v[i]!) / Math.sqrt(bc2) + h.eps));
  }
}

export interface LionHp { lr: number; wd: number; beta1: number; beta2: number }
/** Chen et al. 2023, Algorithm 2. */
export function lionRef(w: Float64Array, g: ArrayLike<number>, m: Float64Array, h: LionHp): void {
  for (let i = 0; i < w.length; i++) {
    const c = h.beta1 * m[i]! + (1 - h.beta1) * g[i]!;
    w[i] = w[i]! - h.lr * (Math.sign(c) + h.wd * w[i]!);
    m[i] = h.beta2 * m[i]! + (1 - h.beta2) * g[i]!;
  }
}

export interface SophiaHp { lr: number; wd: number; beta1: number; rho: number; eps: number }
/** Liu et al. 2023, Algorithm 3 (SophiaG); h is the EMA of the GNB estimates (which include B). */
export function sophiaRef(w: Float64Array, g: ArrayLike<number>, m: Float64Array, hess: ArrayLike<number>, h: SophiaHp): void {
  for (let i = 0; i < w.length; i++) {
    w[i] = w[i]! * (1 - h.lr * h.wd);
    m[i] = h.beta1 * m[i]! + (1 - h.beta1) * g[i]!;
    const r = Math.min(Math.abs(m[i]!) / Math.max(h.rho * hess[i]!, h.eps), 1);
    w[i] = w[i]! - h.lr * Math.sign(m[i]!) * r;
  }
}
export function emaRef(hess: Float64Array, e: ArrayLike<number>, beta2: number): void {
  for (let i = 0; i < hess.length; i++) hess[i] = beta2 * hess[i]! + (1 - beta2) * e[i]!;
}

/**
 * bitsandbytes' create_dynamic_map(signed, max_exponent_bits=7, total_bits=8), from its definition: for
 * i = 0..6 the midpoints of linspace(0.1, 1, k+1) times 10^(i−6), k = 2^i (signed, with negatives) or
 * 2^(i+1) (unsigned); plus 0 and 1; rounded to float32 and sorted.
 */
export function dynamicMapRef(signed: boolean): Float64Array {
  const data: number[] = [];
  for (let i = 0; i < 7; i++) {
    const k = signed ? 2 ** i : 2 ** (i + 1);
    const pow10 = 10 ** (6 - i); // exact
    const step = 0.9 / k;
    for (let j = 0; j < k; j++) {
      const mean = (0.1 + j * step + (0.1 + (j + 1) * step)) / 2 / pow10;
      data.push(Math.fround(mean));
      if (signed) data.push(Math.fround(-mean));
    }
  }
  data.push(0, 1);
  return Float64Array.from(data).sort();
}

/** Midpoints between neighbouring codes (rounded to float32 as the kernel keeps them). */
export function midpointsRef(map: Float64Array): Float64Array {
  const mid = new Float64Array(255);
  for (let k = 0; k < 255; k++) mid[k] = Math.fround((map[k]! + map[k + 1]!) / 2);
  return mid;
}

/** The nearest code by the midpoint rule (ties to the lower code), and the distance to the closest midpoint. */
export function nearestCodeRef(mid: Float64Array, x: number): { code: number; gap: number; midAt: number } {
  let lo = 0;
  let hi = 255; // number of midpoints < x, by bisection
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (x > mid[m]!) lo = m + 1;
    else hi = m;
  }
  const code = lo;
  let gap = Infinity;
  let midAt = 0;
  for (const k of [code - 1, code]) {
    if (k >= 0 && k < 255 && Math.abs(x - mid[k]!) < gap) {
      gap = Math.abs(x - mid[k]!);
      midAt = mid[k]!;
    }
  }
  return { code, gap, midAt };
}

export interface Adam8State {
  c1: Uint8Array;
  c2: Uint8Array;
  a1: Float64Array;
  a2: Float64Array;
}

/**
 * One 8-bit Adam step (Dettmers et al. 2022): per block of 256, dequantize m and v, update them and w in
 * float64, take the new absmax, requantize to the nearest code. bitsandbytes' kernels then keep the sign of
 * the first moment: where the code's sign bit differs from the value's, they step one code towards the
 * value. With the nearest code that happens only for a negative value rounding to 0 (0.0's sign bit is
 * clear), which gets the smallest-magnitude negative code. Returns, per element and moment, the normalised
 * value's distance to its nearest midpoint (relative to that midpoint), for the tie tolerance.
 */
export function adam8bitRef(
  w: Float64Array, g: ArrayLike<number>, s: Adam8State, h: AdamHp, mapS: Float64Array, mapU: Float64Array,
): { near1: Float64Array; near2: Float64Array } {
  const midS = midpointsRef(mapS);
  const midU = midpointsRef(mapU);
  const zeroS = mapS.indexOf(0);
  const n = w.length;
  const bc1 = 1 - h.beta1 ** h.step;
  const bc2 = 1 - h.beta2 ** h.step;
  const near1 = new Float64Array(n);
  const near2 = new Float64Array(n);
  for (let b = 0; b < n; b += 256) {
    const e = Math.min(n, b + 256);
    const blk = b / 256;
    const m = new Float64Array(e - b);
    const v = new Float64Array(e - b);
    let mx1 = 0;
    let mx2 = 0;
    for (let i = b; i < e; i++) {
      let gi = g[i]!;
      if (!h.decoupled) gi += h.wd * w[i]!;
      const mi = h.beta1 * mapS[s.c1[i]!]! * s.a1[blk]! + (1 - h.beta1) * gi;
      const vi = h.beta2 * mapU[s.c2[i]!]! * s.a2[blk]! + (1 - h.beta2) * gi * gi;
      m[i - b] = mi;
      v[i - b] = vi;
      mx1 = Math.max(mx1, Math.abs(mi));
      mx2 = Math.max(mx2, vi);
    }
    for (let i = b; i < e; i++) {
      if (h.decoupled) w[i] = w[i]! * (1 - h.lr * h.wd);
      w[i] = w[i]! - (h.lr / bc1) * (m[i - b]! / (Math.sqrt(v[i - b]!) / Math.sqrt(bc2) + h.eps));
    }
    s.a1[blk] = mx1;
    s.a2[blk] = mx2;
    for (let i = b; i < e; i++) {
      const q1 = nearestCodeRef(midS, mx1 > 0 ? m[i - b]! / mx1 : 0);
      const q2 = nearestCodeRef(midU, mx2 > 0 ? v[i - b]! / mx2 : 0);
      s.c1[i] = q1.code === zeroS && m[i - b]! < 0 ? zeroS - 1 : q1.code;
      s.c2[i] = q2.code;
      near1[i] = q1.gap / Math.max(Math.abs(q1.midAt), 1e-30);
      near2[i] = q2.gap / Math.max(Math.abs(q2.midAt), 1e-30);
    }
  }
  return { near1, near2 };
}
