/**
 * LayerNorm and RMSNorm over the last dimension, optionally fused with the residual add: layerNorm(),
 * rmsNorm() and their kernel-level twins, one native kernel each way (native/kernels/norm.h).
 *
 * Where things are checked, once each: the public op and its kernel-level twin (fused*, every kernel
 * option, the kernel's own dtypes only; benches and tests use them) check what only JS sees (live Tensors,
 * option names, types and ranges) with the readers below, then call the *Kernel function, which checks
 * nothing more; the native op checks shapes, dtypes and devices. Defaults: LAYER_DEFAULTS (util.ts).
 *
 * The residual-fused norms return { out, sum } with sum = x + residual (the residual stream) and
 * out = norm(sum). The tape has single-output nodes, so `sum` is its own node (gradient passed to x and
 * residual unchanged) and `out`'s node takes `sum` as input: the gradients of both uses of `sum` are
 * added by the tape before they reach x and residual.
 */
import { attach, needsGrad, save } from '../autograd/record.js';
import type { DType } from '../dtype.js';
import { ArgumentTypeError, ValueError } from '../errors.js';
import { native } from '../native.js';
import type { Tensor } from '../tensor.js';
import { checkOptions, describe, LAYER_DEFAULTS, liveTensor, viaFloat32, wrap } from './util.js';

/** A norm's eps: a finite number >= 0. */
export function readEps(op: string, eps: unknown): number {
  if (typeof eps !== 'number') throw new ArgumentTypeError(op, `eps must be a number, got ${describe(eps)}`);
  if (!Number.isFinite(eps) || eps < 0) throw new ValueError(op, `eps must be a finite number >= 0, got ${eps}`);
  return eps;
}

export interface NormWithResidual<D extends DType> {
  /** norm(x + residual) */
  out: Tensor<D>;
  /** x + residual: the residual stream */
  sum: Tensor<D>;
}

// The residual stream as its own node: d(sum)/dx = d(sum)/dr = identity.
function sumNode<D extends DType>(sum: Tensor<D>, x: Tensor, r: Tensor): Tensor<D> {
  if (!needsGrad(x, r)) return sum;
  return attach('residual add', sum, [x, r], (g) => [g, g]);
}

/**
 * LayerNorm (bias may be null) or RMSNorm (rms: true, no bias) of s = x (+ residual), with the backward
 * rule; `sum` is s when a residual was given, else null.
 */
export function normKernel<D extends DType>(
  rms: boolean, x: Tensor<D>, weight: Tensor<D>, bias: Tensor<D> | null, residual: Tensor<D> | null, eps: number,
): { out: Tensor<D>; sum: Tensor<D> | null } {
  const r = residual?.handle ?? null;
  // layerNorm: [y, mean, rstd, sum]; rmsNorm: [y, rstd, sum]
  const hs = rms ? native.rmsNorm(x.handle, weight.handle, r, eps) : native.layerNorm(x.handle, weight.handle, bias?.handle ?? null, r, eps);
  const y = wrap<D>(hs[0]);
  const stats = (rms ? [hs[1]] : [hs[1], hs[2]]).map((h) => wrap(h!));
  const sumH = rms ? hs[2] : hs[3];
  const sum = sumH ? sumNode(wrap<D>(sumH), x, residual!) : null;
  const s = sum ?? x;
  if (!needsGrad(s, weight, bias)) {
    for (const t of stats) t.dispose();
    return { out: y, sum };
  }
  const ss = save(s), sw = save(weight), st = stats.map((t) => save(t));
  for (const t of stats) t.dispose();
  const out = attach(rms ? 'rmsNorm' : 'layerNorm', y, [s, weight, bias], (g) => {
    if (rms) {
      const [dx, dw] = native.rmsNormBackward(g.handle, null, ss.handle, sw.handle, st[0]!.handle);
      return [wrap(dx), wrap(dw), null];
    }
    const [dx, dw, db] = native.layerNormBackward(g.handle, null, ss.handle, sw.handle, st[0]!.handle, st[1]!.handle, bias !== null);
    return [wrap(dx), wrap(dw), db ? wrap(db) : null];
  }, [ss, sw, ...st]);
  return { out, sum };
}

// ---- norms ----

/** Layer norm over the last dimension (Ba et al., 2016): (x - mean) / sqrt(var + eps) · weight + bias, biased variance. */
export function layerNorm<D extends DType>(x: Tensor<D>, weight: Tensor<D>, bias?: Tensor<D> | null, eps: number = LAYER_DEFAULTS.layerNormEps): Tensor<D> {
  const op = 'layerNorm';
  liveTensor(op, 'x', x);
  liveTensor(op, 'weight', weight);
  if (bias !== undefined && bias !== null) liveTensor(op, 'bias', bias);
  const e = readEps(op, eps);
  return viaFloat32<D>([x, weight, bias ?? null], ([x, w, b]) => normKernel(false, x!, w!, b, null, e).out);
}

/** RMS norm over the last dimension (Zhang & Sennrich, 2019): x / sqrt(mean(x²) + eps) · weight. */
export function rmsNorm<D extends DType>(x: Tensor<D>, weight: Tensor<D>, eps: number = LAYER_DEFAULTS.rmsNormEps): Tensor<D> {
  const op = 'rmsNorm';
  liveTensor(op, 'x', x);
  liveTensor(op, 'weight', weight);
  const e = readEps(op, eps);
  return viaFloat32<D>([x, weight], ([x, w]) => normKernel(true, x!, w!, null, null, e).out);
}

// ---- kernel-level entry points ----

export interface FusedNormOptions<D extends DType = DType> {
  /** Added to the variance (mean square for RMSNorm); default LAYER_DEFAULTS.layerNormEps / rmsNormEps. */
  eps?: number;
  /** When given, the norm is applied to x + residual and the sum is returned too. */
  residual?: Tensor<D>;
}

function fusedNorm<D extends DType>(
  op: string, rms: boolean, x: Tensor<D>, weight: Tensor<D>, bias: Tensor<D> | null | undefined, opts: FusedNormOptions<D> | undefined,
): Tensor<D> | NormWithResidual<D> {
  liveTensor(op, 'input', x);
  liveTensor(op, 'weight', weight);
  if (bias !== undefined && bias !== null) liveTensor(op, 'bias', bias);
  checkOptions(op, opts, ['eps', 'residual']);
  const eps = readEps(op, opts?.eps ?? (rms ? LAYER_DEFAULTS.rmsNormEps : LAYER_DEFAULTS.layerNormEps));
  const residual = opts?.residual ?? null;
  if (residual !== null) liveTensor(op, 'residual', residual);
  const { out, sum } = normKernel(rms, x, weight, bias ?? null, residual, eps);
  return sum ? { out, sum } : out;
}

export function fusedLayerNorm<D extends DType>(x: Tensor<D>, weight: Tensor<D>, bias?: Tensor<D> | null): Tensor<D>;
export function fusedLayerNorm<D extends DType>(
  x: Tensor<D>, weight: Tensor<D>, bias: Tensor<D> | null | undefined, opts: FusedNormOptions<D> & { residual?: undefined },
): Tensor<D>;
export function fusedLayerNorm<D extends DType>(
  x: Tensor<D>, weight: Tensor<D>, bias: Tensor<D> | null | undefined, opts: FusedNormOptions<D> & { residual: Tensor<D> },
): NormWithResidual<D>;
/** LayerNorm over the last dim: (s - mean) / sqrt(var + eps) * weight + bias, s = x (+ residual). */
export function fusedLayerNorm<D extends DType>(
  x: Tensor<D>, weight: Tensor<D>, bias?: Tensor<D> | null, opts?: FusedNormOptions<D>,
): Tensor<D> | NormWithResidual<D> {
  return fusedNorm('fusedLayerNorm', false, x, weight, bias, opts);
}

export function fusedRmsNorm<D extends DType>(x: Tensor<D>, weight: Tensor<D>): Tensor<D>;
export function fusedRmsNorm<D extends DType>(x: Tensor<D>, weight: Tensor<D>, opts: FusedNormOptions<D> & { residual?: undefined }): Tensor<D>;
export function fusedRmsNorm<D extends DType>(x: Tensor<D>, weight: Tensor<D>, opts: FusedNormOptions<D> & { residual: Tensor<D> }): NormWithResidual<D>;
/** RMSNorm over the last dim: s / sqrt(mean(s^2) + eps) * weight, s = x (+ residual). */
export function fusedRmsNorm<D extends DType>(x: Tensor<D>, weight: Tensor<D>, opts?: FusedNormOptions<D>): Tensor<D> | NormWithResidual<D> {
  return fusedNorm('fusedRmsNorm', true, x, weight, null, opts);
}
