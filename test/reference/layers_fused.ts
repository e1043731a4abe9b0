/**
 * Float64 references for the fused layer kernels, written from the definitions:
 * - GELU (Hendrycks & Gimpel 2016): exact x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), and the tanh
 *   approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
 * - SiLU / Swish (Elfwing et al. 2017; Ramachandran et al. 2017): x * sigmoid(x).
 * - GLU variants (Shazeer 2020, "GLU Variants Improve Transformer"): act(x W) * (x V); lmforge's layout
 *   puts the activated half first: x [..., 2h] -> act(x[..., :h]) * x[..., h:].
 * - LayerNorm (Ba et al. 2016) with the biased variance; RMSNorm (Zhang & Sennrich 2019).
 * - RoPE (Su et al. 2021): theta_i = base^(-2i/d), pairs (i, i + d/2) (GPT-NeoX) or (2i, 2i+1) (GPT-J).
 * - z-loss (Chowdhery et al. 2022, PaLM): z * logsumexp(logits)^2 added to the cross-entropy.
 */
import { logSumExp } from './softmax.js';

/** erf to ~1e-15 (Taylor series near 0, continued fraction for erfc beyond). */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (a < 2.5) {
    let term = a, sum = a;
    for (let n = 1; n < 200; n++) {
      term *= (-a * a) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    const r = (2 / Math.sqrt(Math.PI)) * sum;
    return x < 0 ? -r : r;
  }
  // erfc(a) = exp(-a^2)/sqrt(pi) * 1/(a + 1/2/(a + 1/(a + 3/2/(a + 2/(a + ...))))) (Lentz)
  let f = a, C = a, D = 0;
  for (let n = 1; n < 300; n++) {
    const an = n / 2;
    D = a + an * D;
    D = D === 0 ? 1e-300 : 1 / D;
    C = a + an / C;
    if (C === 0) C = 1e-300;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  return x < 0 ? erfc - 1 : 1 - erfc;
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
// lib/ops' ActivationKind: gelu is the exact (erf) form, swish is x·sigmoid(x) (SiLU).
export type RefActKind = 'relu' | 'gelu' | 'swish';
export type RefGatedKind = 'glu' | 'geglu' | 'swiglu' | 'reglu';

export function refAct(kind: RefActKind | 'sigmoid', x: number): number {
  switch (kind) {
    case 'relu': return x > 0 ? x : 0;
    case 'gelu': return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case 'swish': return x * sigmoid(x);
    case 'sigmoid': return sigmoid(x);
  }
}

// GeGLU uses the exact (erf) GELU, as in the GLU-variants paper.
const GATE_ACT: Record<RefGatedKind, RefActKind | 'sigmoid'> = { glu: 'sigmoid', geglu: 'gelu', swiglu: 'swish', reglu: 'relu' };

export function refActivation(kind: RefActKind, x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v) => refAct(kind, v));
}

/** x [rows, 2h] -> [rows, h] = act(x[:, :h]) * x[:, h:] */
export function refGated(kind: RefGatedKind, x: ArrayLike<number>, h: number): Float64Array {
  const rows = x.length / (2 * h);
  const out = new Float64Array(rows * h);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < h; j++) out[r * h + j] = refAct(GATE_ACT[kind], x[r * 2 * h + j]!) * x[r * 2 * h + h + j]!;
  return out;
}

/** LayerNorm (bias optional) or RMSNorm (mean = 0, no bias) of each row of x [rows, D]. */
export function refNorm(x: ArrayLike<number>, D: number, w: ArrayLike<number>, b: ArrayLike<number> | null, eps: number, rms: boolean): Float64Array {
  const rows = x.length / D;
  const out = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    if (!rms) {
      for (let j = 0; j < D; j++) mean += x[r * D + j]!;
      mean /= D;
    }
    let v = 0;
    for (let j = 0; j < D; j++) v += (x[r * D + j]! - mean) ** 2;
    const rstd = 1 / Math.sqrt(v / D + eps);
    for (let j = 0; j < D; j++) out[r * D + j] = (x[r * D + j]! - mean) * rstd * w[j]! + (b ? b[j]! : 0);
  }
  return out;
}

/** RoPE on x [B, H, T, D] (row-major); rotaryDims defaults to D. */
export function refRope(x: ArrayLike<number>, shape: readonly number[], base: number, pairing: 'half' | 'interleaved', offset: number, rotaryDims?: number): Float64Array {
  const [B, H, T, D] = shape as [number, number, number, number];
  const d = rotaryDims ?? D;
  const out = Float64Array.from(x);
  for (let row = 0; row < B * H * T; row++) {
    const pos = offset + (row % T);
    for (let i = 0; i < d / 2; i++) {
      const ang = pos * Math.pow(base, (-2 * i) / d);
      const ia = pairing === 'half' ? i : 2 * i, ib = pairing === 'half' ? i + d / 2 : 2 * i + 1;
      const a = x[row * D + ia]!, b = x[row * D + ib]!;
      out[row * D + ia] = a * Math.cos(ang) - b * Math.sin(ang);
      out[row * D + ib] = a * Math.sin(ang) + b * Math.cos(ang);
    }
  }
  return out;
}

/** Cross-entropy plus z-loss over rows of logits [N, V]: mean over non-ignored rows of lse - x_t + z lse^2. */
export function refCrossEntropyZ(logits: ArrayLike<number>, V: number, targets: ArrayLike<number>, z: number, ignoreIndex = -100, reduction: 'mean' | 'sum' | 'none' = 'mean'): Float64Array {
  const N = logits.length / V;
  const losses = new Float64Array(N);
  let valid = 0;
  for (let i = 0; i < N; i++) {
    const t = targets[i]!;
    if (t === ignoreIndex) continue;
    const row = Array.from({ length: V }, (_, j) => logits[i * V + j]!);
    const lse = logSumExp(row);
    losses[i] = lse - row[t]! + z * lse * lse;
    valid++;
  }
  if (reduction === 'none') return losses;
  const s = losses.reduce((a, b) => a + b, 0);
  return Float64Array.of(reduction === 'sum' ? s : s / valid);
}
