/**
 * Float64 references for the layer ops, written from the papers with plain loops and no lmforge code:
 * attention with an explicit Tq×Tk score matrix (causal mask, ALiBi, grouped-query heads), RoPE in both
 * pairings, ALiBi slopes, layer and RMS norms, and the (gated) activations.
 */
import { nd, type NdArray } from './ndarray.js';

/** erf by its everywhere-positive series, erf(x) = 2/√π·e^(-x²)·Σ 2ⁿx^(2n+1)/(1·3·…·(2n+1)): no cancellation. */
export function refErf(x: number): number {
  if (x < 0) return -refErf(-x);
  if (x > 6) return 1; // 1 - erf(6) < 3e-17
  let term = x, sum = x;
  for (let n = 1; n < 500; n++) {
    term *= (2 * x * x) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
}

export const refSigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

export const REF_ACT: Record<string, (x: number) => number> = {
  relu: (x) => Math.max(x, 0),
  gelu: (x) => 0.5 * x * (1 + refErf(x / Math.SQRT2)),
  swish: (x) => x * refSigmoid(x),
  sigmoid: refSigmoid,
};

export function refActivation(x: NdArray, kind: 'relu' | 'gelu' | 'swish'): NdArray {
  return nd(x.shape, x.data.map(REF_ACT[kind]!));
}

/** act(first half) · second half along the last dimension. */
export function refGated(x: NdArray, kind: 'glu' | 'geglu' | 'swiglu' | 'reglu'): NdArray {
  const f = REF_ACT[{ glu: 'sigmoid', geglu: 'gelu', swiglu: 'swish', reglu: 'relu' }[kind]]!;
  const n = x.shape[x.shape.length - 1]!, h = n / 2;
  const rows = x.data.length / n;
  const out = nd([...x.shape.slice(0, -1), h]);
  for (let r = 0; r < rows; r++) for (let i = 0; i < h; i++) out.data[r * h + i] = f(x.data[r * n + i]!) * x.data[r * n + h + i]!;
  return out;
}

export function refLayerNorm(x: NdArray, w: Float64Array, b: Float64Array | null, eps: number): NdArray {
  const C = x.shape[x.shape.length - 1]!;
  const out = nd(x.shape);
  for (let r = 0; r < x.data.length / C; r++) {
    let mu = 0;
    for (let c = 0; c < C; c++) mu += x.data[r * C + c]!;
    mu /= C;
    let v = 0;
    for (let c = 0; c < C; c++) v += (x.data[r * C + c]! - mu) ** 2;
    v /= C;
    for (let c = 0; c < C; c++) out.data[r * C + c] = ((x.data[r * C + c]! - mu) / Math.sqrt(v + eps)) * w[c]! + (b ? b[c]! : 0);
  }
  return out;
}

export function refRmsNorm(x: NdArray, w: Float64Array, eps: number): NdArray {
  const C = x.shape[x.shape.length - 1]!;
  const out = nd(x.shape);
  for (let r = 0; r < x.data.length / C; r++) {
    let ms = 0;
    for (let c = 0; c < C; c++) ms += x.data[r * C + c]! ** 2;
    ms /= C;
    for (let c = 0; c < C; c++) out.data[r * C + c] = (x.data[r * C + c]! / Math.sqrt(ms + eps)) * w[c]!;
  }
  return out;
}

/** ALiBi slopes as in the paper's released code (get_slopes), with its recursion for non-powers of two. */
export function refAlibiSlopes(n: number): number[] {
  const powerOf2 = (m: number): number[] => {
    const start = 2 ** -(2 ** -(Math.log2(m) - 3));
    return Array.from({ length: m }, (_, i) => start * start ** i);
  };
  if (Number.isInteger(Math.log2(n))) return powerOf2(n);
  const closest = 2 ** Math.floor(Math.log2(n));
  return [...powerOf2(closest), ...refAlibiSlopes(2 * closest).filter((_, i) => i % 2 === 0).slice(0, n - closest)];
}

/**
 * RoPE on x [..., T, D]: for position p = offset + t and frequency θ_i = base^(-2i/D), the pair
 * (a, b) = (i, i + D/2) ('half') or (2i, 2i+1) ('interleaved') is rotated by p·θ_i.
 */
export function refRope(x: NdArray, base: number, pairing: 'half' | 'interleaved', offset: number): NdArray {
  const D = x.shape[x.shape.length - 1]!, T = x.shape[x.shape.length - 2]!;
  const out = nd(x.shape);
  for (let r = 0; r < x.data.length / D; r++) {
    const p = offset + (r % T);
    for (let i = 0; i < D / 2; i++) {
      const theta = Math.pow(base, (-2 * i) / D);
      const a = pairing === 'half' ? i : 2 * i, b = pairing === 'half' ? i + D / 2 : 2 * i + 1;
      const xa = x.data[r * D + a]!, xb = x.data[r * D + b]!;
      out.data[r * D + a] = xa * Math.cos(p * theta) - xb * Math.sin(p * theta);
      out.data[r * D + b] = xa * Math.sin(p * theta) + xb * Math.cos(p * theta);
    }
  }
  return out;
}

/**
 * Attention with the score matrix written out: q [B, H, Tq, D], k and v [B, Hkv, Tk, D]; query head h
 * uses key/value head floor(h·Hkv/H); query i sits at position Tk - Tq + i.
 */
export function refAttention(
  q: NdArray, k: NdArray, v: NdArray,
  opts: { causal: boolean; slopes: number[] | null; scale?: number },
): NdArray {
  const [B, H, Tq, D] = q.shape as [number, number, number, number];
  const [, Hkv, Tk] = k.shape as [number, number, number, number];
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  const out = nd([B, H, Tq, D]);
  const qa = (b: number, h: number, i: number, d: number): number => q.data[((b * H + h) * Tq + i) * D + d]!;
  const ka = (b: number, h: number, j: number, d: number): number => k.data[((b * Hkv + h) * Tk + j) * D + d]!;
  const va = (b: number, h: number, j: number, d: number): number => v.data[((b * Hkv + h) * Tk + j) * D + d]!;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kh = Math.floor((h * Hkv) / H);
      for (let i = 0; i < Tq; i++) {
        const pos = Tk - Tq + i;
        const s = new Float64Array(Tk);
        let max = -Infinity;
        for (let j = 0; j < Tk; j++) {
          if (opts.causal && j > pos) {
            s[j] = -Infinity;
            continue;
          }
          let dot = 0;
          for (let d = 0; d < D; d++) dot += qa(b, h, i, d) * ka(b, kh, j, d);
          s[j] = dot * scale - (opts.slopes ? opts.slopes[h]! * (pos - j) : 0);
          max = Math.max(max, s[j]!);
        }
        let z = 0;
        for (let j = 0; j < Tk; j++) z += Math.exp(s[j]! - max);
        for (let d = 0; d < D; d++) {
          let acc = 0;
          for (let j = 0; j < Tk; j++) acc += (Math.exp(s[j]! - max) / z) * va(b, kh, j, d);
          out.data[((b * H + h) * Tq + i) * D + d] = acc;
        }
      }
    }
  }
  return out;
}

/** x [..., in] · Wᵀ + b with W [out, in]. */
export function refLinear(x: NdArray, w: NdArray, b: Float64Array | null): NdArray {
  const [O, I] = w.shape as [number, number];
  const rows = x.data.length / I;
  const out = nd([...x.shape.slice(0, -1), O]);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < O; o++) {
      let acc = b ? b[o]! : 0;
      for (let i = 0; i < I; i++) acc += x.data[r * I + i]! * w.data[o * I + i]!;
      out.data[r * O + o] = acc;
    }
  return out;
}

/**
 * Causal self-attention of x [B, T, C]: the fused projection's output columns are [q heads | k heads |
 * v heads], head h owning columns h·Dh .. (h+1)·Dh of its block; RoPE on q and k; the heads' outputs
 * concatenated in head order, then the output projection.
 */
export function refSelfAttention(
  x: NdArray,
  p: { wqkv: NdArray; bqkv: Float64Array | null; wproj: NdArray; bproj: Float64Array | null },
  o: { heads: number; kvHeads: number; position: 'rope' | 'alibi' | 'none'; ropeBase?: number; ropePairing?: 'half' | 'interleaved' },
): NdArray {
  const [B, T, C] = x.shape as [number, number, number];
  const H = o.heads, Hkv = o.kvHeads, Dh = C / H, W = (H + 2 * Hkv) * Dh;
  const qkv = refLinear(x, p.wqkv, p.bqkv);
  const split = (first: number, n: number): NdArray => {
    const out = nd([B, n, T, Dh]);
    for (let b = 0; b < B; b++)
      for (let h = 0; h < n; h++)
        for (let t = 0; t < T; t++)
          for (let d = 0; d < Dh; d++) out.data[((b * n + h) * T + t) * Dh + d] = qkv.data[(b * T + t) * W + (first + h) * Dh + d]!;
    return out;
  };
  let q = split(0, H), k = split(H, Hkv);
  const v = split(H + Hkv, Hkv);
  if (o.position === 'rope') {
    q = refRope(q, o.ropeBase ?? 10000, o.ropePairing ?? 'half', 0);
    k = refRope(k, o.ropeBase ?? 10000, o.ropePairing ?? 'half', 0);
  }
  const y = refAttention(q, k, v, { causal: true, slopes: o.position === 'alibi' ? refAlibiSlopes(H) : null });
  const merged = nd([B, T, C]);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let t = 0; t < T; t++)
        for (let d = 0; d < Dh; d++) merged.data[(b * T + t) * C + h * Dh + d] = y.data[((b * H + h) * T + t) * Dh + d]!;
  return refLinear(merged, p.wproj, p.bproj);
}
