/**
 * The MPT projection: what a longer sequence should cost the MPT sizes (125M to 30B)
 * at 4096 and 8192 tokens relative to 2048, from the FLOP model and the efficiencies measured by the sweep,
 * printed beside MosaicML's published A100 figures.
 *
 * The model. Per token, a step does F_d = 6·N dense FLOPs (every weight: forward, input gradient, weight
 * gradient) and F_a = 12·L·d·T attention FLOPs (QKᵀ and PV over the full T×T square, forward and backward,
 * MosaicML's count too). Time per token τ = F_d / E_d + F_a / E_a. E_d is fitted per model size, because
 * the dense part's efficiency depends on the width (small GEMMs, and the memory-bound layers and optimizer,
 * whose cost also scales with N, weigh more on small models); E_a is shared by all sizes, because the fused
 * attention kernel's efficiency depends on the head size (64 for every sweep size), not on the width.
 *
 * How the two are measured. The sweep times the fused attention forward + backward of every cell alone
 * (its "attention time"), so E_a comes straight from that: all attention FLOPs over all attention seconds
 * of the cells at T ≥ 1024 (the MPT lengths are 2048 and up, where the kernel's tiles are mostly full),
 * and E_d of a size is the median over its cells of its dense FLOPs over the rest of the step time. That
 * decomposition is preferred to fitting both from step times alone (fitEfficiencies, least squares on
 * relative error with non-negative coefficients, kept for data without attention timings, such as
 * MosaicML's): attention is a small share of the step at short T, so a regression's E_a rests on small
 * differences between noisy step times; on a run of the shared 2-core machine it came out at 2469 GFLOP/s,
 * five times the FMA peak, and projected almost no penalty at all.
 *
 * Relative throughput at T against T₀ = τ(T₀) / τ(T) = (F_d/E_d + F_a(T₀)/E_a) / (F_d/E_d + F_a(T)/E_a):
 * only the ratio ρ = E_d / E_a matters, so the projection carries the measured balance between the dense
 * and the attention parts to sizes this machine cannot train. The largest swept size's E_d is used (the one
 * nearest the MPT widths). The "FLOPs only" column takes ρ = 1.
 */
import { ValueError } from '../errors.js';
import { MPT_A100_TOKENS_PER_GPU, MPT_SIZES, MPT_SOURCE, mptParams, type MptSize } from './mpt_published.js';

/** One measured (or published) cell: FLOPs per token of each kind and seconds per token. */
export interface EfficiencyPoint {
  /** Which group (model size) the point belongs to: each group gets its own dense efficiency. */
  group: string;
  denseFlops: number;
  attnFlops: number;
  secondsPerToken: number;
}

export interface EfficiencyFit {
  /** Dense GFLOP/s per group; Infinity where the fit found the dense part free (coefficient 0). */
  dense: Record<string, number>;
  /** Attention GFLOP/s shared by all groups; Infinity where the fit found attention free. */
  attention: number;
  /** Root mean square of the relative errors of the fitted step times. */
  rmsRelativeError: number;
  points: number;
}

// Solves the normal equations A x = b (A symmetric positive definite, small) by Gaussian elimination
// with partial pivoting; returns null when A is singular (a variable no point constrains).
function solve(A: number[][], b: number[]): number[] | null {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[p]![c]!)) p = r;
    const scale = Math.max(...M.map((row) => Math.abs(row[c]!)), 1e-300);
    if (Math.abs(M[p]![c]!) <= 1e-12 * scale) return null;
    [M[c], M[p]] = [M[p]!, M[c]!];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = M[r]![c]! / M[c]![c]!;
      for (let k = c; k <= n; k++) M[r]![k]! -= f * M[c]![k]!;
    }
  }
  return M.map((row, i) => row[n]! / row[i]!);
}

/**
 * Least squares of Σ (Σ_j x_j·u_ij − 1)² over x ≥ 0 (u_ij = a feature over the measured time), by an
 * active set: solve freely, pin the most negative coefficient at 0, repeat. Few unknowns, so this is exact.
 */
function nonNegativeLeastSquares(rows: number[][], n: number): number[] {
  const active = new Set<number>(Array.from({ length: n }, (_, j) => j));
  for (;;) {
    const idx = [...active];
    const A = idx.map((i) => idx.map((j) => rows.reduce((s, r) => s + r[i]! * r[j]!, 0)));
    const b = idx.map((i) => rows.reduce((s, r) => s + r[i]!, 0));
    const x = idx.length ? solve(A, b) : [];
    if (x === null) throw new ValueError('fitEfficiencies', 'the points do not determine the efficiencies (every point of a group has the same attention share?)');
    let worst = -1;
    idx.forEach((j, k) => {
      if (x[k]! < 0 && (worst < 0 || x[k]! < x[idx.indexOf(worst)]!)) worst = j;
    });
    if (worst < 0) {
      const out = new Array<number>(n).fill(0);
      idx.forEach((j, k) => (out[j] = x[k]!));
      return out;
    }
    active.delete(worst);
  }
}

/** Fits τ = F_d / E_d(group) + F_a / E_a to the points (see the module comment). */
export function fitEfficiencies(points: readonly EfficiencyPoint[]): EfficiencyFit {
  if (points.length < 2) throw new ValueError('fitEfficiencies', `need at least 2 points, got ${points.length}`);
  for (const p of points)
    if (!(p.denseFlops > 0 && p.attnFlops >= 0 && p.secondsPerToken > 0 && Number.isFinite(p.secondsPerToken)))
      throw new ValueError('fitEfficiencies', `each point needs denseFlops > 0, attnFlops >= 0 and a finite secondsPerToken > 0, got ${JSON.stringify(p)}`);
  const groups = [...new Set(points.map((p) => p.group))];
  const n = groups.length + 1;
  // Features scaled to O(1) (seconds per GFLOP), so the normal equations are well conditioned.
  const rows = points.map((p) => {
    const r = new Array<number>(n).fill(0);
    r[groups.indexOf(p.group)] = p.denseFlops / 1e9 / p.secondsPerToken;
    r[n - 1] = p.attnFlops / 1e9 / p.secondsPerToken;
    return r;
  });
  const x = nonNegativeLeastSquares(rows, n);
  const err = rows.map((r) => r.reduce((s, v, j) => s + v * x[j]!, 0) - 1);
  const dense: Record<string, number> = {};
  groups.forEach((g, i) => (dense[g] = x[i]! > 0 ? 1 / x[i]! : Infinity));
  return {
    dense,
    attention: x[n - 1]! > 0 ? 1 / x[n - 1]! : Infinity,
    rmsRelativeError: Math.sqrt(err.reduce((s, e) => s + e * e, 0) / err.length),
    points: points.length,
  };
}

/** Relative throughput at T against T0 for dense FLOPs fd and attention FLOPs per token fa(T), given ρ = E_d / E_a. */
export function relativeThroughput(fd: number, faT0: number, faT: number, rho: number): number {
  return (fd + rho * faT0) / (fd + rho * faT);
}

export interface ProjectionRow {
  size: string;
  params: number;
  layers: number;
  dim: number;
  heads: number;
  T: number;
  /** Attention FLOPs over all FLOPs per token at T. */
  attentionShare: number;
  /** Throughput at T over throughput at the base length: the FLOP model alone (E_a = E_d). */
  flopsOnly: number;
  /** The same with the measured ratio of efficiencies. */
  projected: number;
  /** MosaicML's A100 figure, and projected − published. */
  published: number | null;
  difference: number | null;
}

export interface ProjectionReport {
  baseT: number;
  seqLens: number[];
  /** The efficiencies from this machine's sweep, and the size whose dense efficiency is carried to the MPT sizes. */
  fit: EfficiencyFit;
  /** 'attention timings' (decomposeEfficiencies) or 'step-time fit' (fitEfficiencies). */
  method: 'attention timings' | 'step-time fit';
  referenceSize: string;
  /** E_d / E_a used for the projection. */
  rho: number;
  /** The same model fitted to MosaicML's own figures (per-size E_d, shared E_a): their E_d / E_a. */
  publishedFit: { rho: number; rmsRelativeError: number } | null;
  rows: ProjectionRow[];
  source: string;
}

/** The sweep's rows as fit points: any object with these fields (SweepRow has them). */
export interface MeasuredCell {
  size: string;
  params: number;
  layers: number;
  dim: number;
  T: number;
  tokensPerSec: number;
  /** The share of the step the fused attention took when timed alone (the sweep's attentionTimeShare). */
  attentionTimeShare?: number;
}

/**
 * E_a from the attention timings (cells at T ≥ minT, or all when none is that long) and E_d per size as
 * the median of dense FLOPs over the remaining step time; null when the cells carry no usable timing.
 */
export function decomposeEfficiencies(cells: readonly MeasuredCell[], minT = 1024): EfficiencyFit | null {
  const timed = cells.filter((c) => c.attentionTimeShare !== undefined && c.attentionTimeShare > 0 && c.attentionTimeShare < 1);
  if (timed.length === 0 || timed.length !== cells.length) return null;
  const long = timed.some((c) => c.T >= minT) ? timed.filter((c) => c.T >= minT) : timed;
  const fa = (c: MeasuredCell): number => 12 * c.layers * c.dim * c.T;
  const attention = long.reduce((s, c) => s + fa(c), 0) / long.reduce((s, c) => s + c.attentionTimeShare! / c.tokensPerSec, 0) / 1e9;
  const dense: Record<string, number> = {};
  for (const size of new Set(timed.map((c) => c.size))) {
    const mine = timed.filter((c) => c.size === size).map((c) => (6 * c.params) / ((1 - c.attentionTimeShare!) / c.tokensPerSec) / 1e9).sort((a, b) => a - b);
    const m = mine.length >> 1;
    dense[size] = mine.length % 2 ? mine[m]! : (mine[m - 1]! + mine[m]!) / 2;
  }
  // How well the decomposition reproduces the measured step times.
  const err = timed.map((c) => ((6 * c.params) / dense[c.size]! + fa(c) / attention) / 1e9 * c.tokensPerSec - 1);
  return { dense, attention, rmsRelativeError: Math.sqrt(err.reduce((s, e) => s + e * e, 0) / err.length), points: timed.length };
}

export function sweepPoints(rows: readonly MeasuredCell[]): EfficiencyPoint[] {
  return rows.map((r) => ({ group: r.size, denseFlops: 6 * r.params, attnFlops: 12 * r.layers * r.dim * r.T, secondsPerToken: 1 / r.tokensPerSec }));
}

function publishedPoints(sizes: readonly MptSize[], table: Readonly<Record<string, Readonly<Record<number, number>>>>): EfficiencyPoint[] {
  const pts: EfficiencyPoint[] = [];
  for (const s of sizes)
    for (const [T, tps] of Object.entries(table[s.name] ?? {}))
      pts.push({ group: s.name, denseFlops: 6 * mptParams(s), attnFlops: 12 * s.layers * s.dim * Number(T), secondsPerToken: 1 / tps });
  return pts;
}

export interface ProjectionOptions {
  baseT?: number;
  seqLens?: number[];
  sizes?: readonly MptSize[];
  published?: Readonly<Record<string, Readonly<Record<number, number>>>>;
}

/** Fits the sweep's cells and projects the MPT sizes (module comment). */
export function projectMpt(cells: readonly MeasuredCell[], opts: ProjectionOptions = {}): ProjectionReport {
  const baseT = opts.baseT ?? 2048;
  const seqLens = opts.seqLens ?? [2048, 4096, 8192];
  const sizes = opts.sizes ?? MPT_SIZES;
  const table = opts.published ?? MPT_A100_TOKENS_PER_GPU;
  const decomposed = decomposeEfficiencies(cells);
  const fit = decomposed ?? fitEfficiencies(sweepPoints(cells));
  // The largest model measured (by parameters) is the nearest to the MPT widths.
  const reference = [...cells].sort((a, b) => b.params - a.params)[0]!.size;
  const rho = fit.attention === Infinity ? 0 : fit.dense[reference]! === Infinity ? Infinity : fit.dense[reference]! / fit.attention;
  let publishedFit: ProjectionReport['publishedFit'] = null;
  const pp = publishedPoints(sizes, table);
  if (pp.length >= 2) {
    const f = fitEfficiencies(pp);
    const ds = Object.values(f.dense).filter(Number.isFinite);
    // One ρ for the table: the geometric mean of the per-size dense efficiencies over the shared attention one.
    const gm = ds.length ? Math.exp(ds.reduce((s, v) => s + Math.log(v), 0) / ds.length) : Infinity;
    publishedFit = { rho: f.attention === Infinity ? 0 : gm / f.attention, rmsRelativeError: f.rmsRelativeError };
  }
  const rows: ProjectionRow[] = [];
  for (const s of sizes) {
    const N = mptParams(s);
    const fd = 6 * N;
    const fa = (T: number): number => 12 * s.layers * s.dim * T;
    for (const T of seqLens) {
      const pub = table[s.name];
      const published = pub?.[T] !== undefined && pub[baseT] !== undefined ? pub[T]! / pub[baseT]! : null;
      const projected = rho === Infinity ? baseT / T : relativeThroughput(fd, fa(baseT), fa(T), rho);
      rows.push({
        size: s.name, params: N, layers: s.layers, dim: s.dim, heads: s.heads, T,
        attentionShare: fa(T) / (fd + fa(T)),
        flopsOnly: relativeThroughput(fd, fa(baseT), fa(T), 1),
        projected,
        published,
        difference: published === null ? null : projected - published,
      });
    }
  }
  return { baseT, seqLens, fit, method: decomposed ? 'attention timings' : 'step-time fit', referenceSize: reference, rho, publishedFit, rows, source: MPT_SOURCE };
}

export function projectionMarkdown(p: ProjectionReport): string {
  const g = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : '∞');
  const dense = Object.entries(p.fit.dense).map(([k, v]) => `${k} ${g(v)}`).join(', ');
  const lines = [
    `Projected throughput of the MPT sizes relative to ${p.baseT} tokens, beside MosaicML's published A100 figures (${p.source}).`,
    `Efficiencies from this run's sweep (τ = 6N / E_dense(size) + 12·L·d·T / E_attn, ${p.method === 'attention timings' ? 'E_attn from the attention timed alone at T ≥ 1024, E_dense from the rest of each step' : 'least squares on the step times'}; ${p.fit.points} cells, rms relative error of the step times ${(100 * p.fit.rmsRelativeError).toFixed(1)}%): E_dense GFLOP/s ${dense}; E_attn ${g(p.fit.attention)} GFLOP/s (FLOPs of the full T×T square; the kernel computes the causal half). The projection carries the ${p.referenceSize} size's ratio E_dense / E_attn = ${p.rho.toFixed(2)} to the MPT sizes; "FLOPs only" takes the ratio as 1.`,
    ...(p.publishedFit
      ? [`The same model fitted to MosaicML's figures gives E_dense / E_attn = ${p.publishedFit.rho.toFixed(2)} (rms relative error ${(100 * p.publishedFit.rmsRelativeError).toFixed(1)}%).`]
      : []),
    '',
    '| model | params | layers × width | T | attention FLOPs | FLOPs only | projected | MosaicML | projected − MosaicML |',
    '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...p.rows.map((r) =>
      `| ${r.size} | ${(r.params / 1e9).toFixed(2)}B | ${r.layers} × ${r.dim} | ${r.T} | ${(100 * r.attentionShare).toFixed(0)}% | ${r.flopsOnly.toFixed(2)} | ${r.projected.toFixed(2)} | ${r.published === null ? '—' : r.published.toFixed(2)} | ${r.difference === null ? '—' : `${r.difference >= 0 ? '+' : ''}${r.difference.toFixed(2)}`} |`),
    '',
    'Why small models pay more: dense FLOPs per token are fixed (6·N, with N ≈ 12·L·d²) while attention FLOPs grow with T (12·L·d·T), so their ratio is about T / (6·d): at 8192 tokens attention is most of a 125M model\'s work (d = 768) and a fifth of a 13B model\'s (d = 5120). Where MosaicML\'s figure falls below the FLOP model (30B at 8192), something other than FLOPs (micro-batch size, activation checkpointing, communication) is at work; the FLOP model cannot explain it.',
  ];
  return lines.join('\n');
}
