/**
 * Fused layer ops: activations (plain and gated), LayerNorm and RMSNorm (optionally fused with the
 * residual add), and RoPE. Each forward is one native kernel; each backward rule is one native kernel
 * (native/kernels/activation.h, norm.h, rope.h). fp32 and bf16 compute in fp32; float64 in double.
 *
 * Gated activations take x [..., 2h] and return [..., h] = act(x[..., :h]) * x[..., h:]: the first half
 * goes through the activation, the second half is the linear gate.
 *
 * The residual-fused norms return { out, sum } with sum = x + residual (the residual stream) and
 * out = norm(sum). The tape has single-output nodes, so `sum` is its own node (gradient passed to x and
 * residual unchanged) and `out`'s node takes `sum` as input: the gradients of both uses of `sum` are
 * added by the tape before they reach x and residual.
 */
import { attach, needsGrad, save } from '../autograd/record.js';
import type { DType } from '../dtype.js';
import { ArgumentTypeError, DisposedError, ValueError } from '../errors.js';
import { native } from '../native.js';
import { Tensor } from '../tensor.js';
import { checkOptions, checkTensor, describe, wrap } from './util.js';

export type ActivationKind = 'relu' | 'gelu' | 'gelu_erf' | 'silu' | 'swish';
export type GatedActivationKind = 'glu' | 'geglu' | 'swiglu' | 'reglu';

const PLAIN: readonly string[] = ['relu', 'gelu', 'gelu_erf', 'silu', 'swish'];
const GATED: readonly string[] = ['glu', 'geglu', 'swiglu', 'reglu'];

function live(op: string, name: string, t: unknown): asserts t is Tensor {
  checkTensor(op, name, t);
  if (t.isDisposed) throw new DisposedError(op, `${name} is a disposed tensor`);
}

function kindArg(op: string, kind: unknown, allowed: readonly string[]): string {
  if (typeof kind !== 'string' || !allowed.includes(kind))
    throw new ValueError(op, `unknown activation ${JSON.stringify(kind)} (expected one of: ${allowed.join(', ')})`);
  return kind;
}

/**
 * @internal The fused activation kernel; `op` is the public function the user called, which errors name
 * (the kernel's own names, gelu_erf and silu, are not what a caller of activation(x, 'gelu') knows).
 */
export function activationKernel<D extends DType>(op: string, x: Tensor<D>, kind: string): Tensor<D> {
  const y = wrap<D>(native.activation(kind, x.handle, op));
  if (!needsGrad(x)) return y;
  const sx = save(x);
  return attach(op, y, [x], (g) => [wrap(native.activationBackward(kind, g.handle, sx.handle, op))], [sx]);
}

/** relu, gelu (tanh approximation), gelu_erf (exact), silu / swish, elementwise. */
export function fusedActivation<D extends DType>(x: Tensor<D>, kind: ActivationKind): Tensor<D> {
  const op = 'fusedActivation';
  live(op, 'input', x);
  return activationKernel(op, x, kindArg(op, kind, PLAIN));
}

/** glu (sigmoid), geglu (exact erf gelu), swiglu (silu), reglu (relu): [..., 2h] -> act(first half) * second half. */
export function fusedGatedActivation<D extends DType>(x: Tensor<D>, kind: GatedActivationKind): Tensor<D> {
  const op = 'fusedGatedActivation';
  live(op, 'input', x);
  return activationKernel(op, x, kindArg(op, kind, GATED));
}

export interface FusedNormOptions<D extends DType = DType> {
  /** Added to the variance (mean square for RMSNorm); default 1e-5. */
  eps?: number;
  /** When given, the norm is applied to x + residual and the sum is returned too. */
  residual?: Tensor<D>;
}

export interface NormWithResidual<D extends DType> {
  /** norm(x + residual) */
  out: Tensor<D>;
  /** x + residual: the residual stream */
  sum: Tensor<D>;
}

function epsArg(op: string, eps: unknown): number {
  if (eps === undefined) return 1e-5;
  if (typeof eps !== 'number') throw new ArgumentTypeError(op, `eps must be a number, got ${describe(eps)}`);
  if (!Number.isFinite(eps) || eps < 0) throw new ValueError(op, `eps must be a finite number >= 0, got ${eps}`);
  return eps;
}

// The residual stream as its own node: d(sum)/dx = d(sum)/dr = identity.
function sumNode<D extends DType>(sum: Tensor<D>, x: Tensor, r: Tensor): Tensor<D> {
  if (!needsGrad(x, r)) return sum;
  return attach('residual add', sum, [x, r], (g) => [g, g]);
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
  const op = 'fusedLayerNorm';
  live(op, 'input', x);
  live(op, 'weight', weight);
  if (bias !== undefined && bias !== null) live(op, 'bias', bias);
  checkOptions(op, opts, ['eps', 'residual']);
  const eps = epsArg(op, opts?.eps);
  const residual = opts?.residual;
  if (residual !== undefined) live(op, 'residual', residual);
  const b = bias ?? null;
  const [yH, meanH, rstdH, sumH] = native.layerNorm(x.handle, weight.handle, b?.handle ?? null, residual?.handle ?? null, eps);
  const y = wrap<D>(yH), mean = wrap(meanH), rstd = wrap(rstdH);
  let sum = sumH ? wrap<D>(sumH) : null;
  if (sum) sum = sumNode(sum, x, residual!);
  const s = sum ?? x;
  if (!needsGrad(s, weight, b)) {
    mean.dispose();
    rstd.dispose();
    return sum ? { out: y, sum } : y;
  }
  const ss = save(s), sw = save(weight), sm = save(mean), sr = save(rstd);
  mean.dispose();
  rstd.dispose();
  const out = attach(op, y, [s, weight, b], (g) => {
    const [dx, dw, db] = native.layerNormBackward(g.handle, null, ss.handle, sw.handle, sm.handle, sr.handle, b !== null);
    return [wrap(dx), wrap(dw), db ? wrap(db) : null];
  }, [ss, sw, sm, sr]);
  return sum ? { out, sum } : out;
}

export function fusedRmsNorm<D extends DType>(x: Tensor<D>, weight: Tensor<D>): Tensor<D>;
export function fusedRmsNorm<D extends DType>(x: Tensor<D>, weight: Tensor<D>, opts: FusedNormOptions<D> & { residual?: undefined }): Tensor<D>;
export function fusedRmsNorm<D extends DType>(x: Tensor<D>, weight: Tensor<D>, opts: FusedNormOptions<D> & { residual: Tensor<D> }): NormWithResidual<D>;
/** RMSNorm over the last dim: s / sqrt(mean(s^2) + eps) * weight, s = x (+ residual). */
export function fusedRmsNorm<D extends DType>(x: Tensor<D>, weight: Tensor<D>, opts?: FusedNormOptions<D>): Tensor<D> | NormWithResidual<D> {
  const op = 'fusedRmsNorm';
  live(op, 'input', x);
  live(op, 'weight', weight);
  checkOptions(op, opts, ['eps', 'residual']);
  const eps = epsArg(op, opts?.eps);
  const residual = opts?.residual;
  if (residual !== undefined) live(op, 'residual', residual);
  const [yH, rstdH, sumH] = native.rmsNorm(x.handle, weight.handle, residual?.handle ?? null, eps);
  const y = wrap<D>(yH), rstd = wrap(rstdH);
  let sum = sumH ? wrap<D>(sumH) : null;
  if (sum) sum = sumNode(sum, x, residual!);
  const s = sum ?? x;
  if (!needsGrad(s, weight)) {
    rstd.dispose();
    return sum ? { out: y, sum } : y;
  }
  const ss = save(s), sw = save(weight), sr = save(rstd);
  rstd.dispose();
  const out = attach(op, y, [s, weight], (g) => {
    const [dx, dw] = native.rmsNormBackward(g.handle, null, ss.handle, sw.handle, sr.handle);
    return [wrap(dx), wrap(dw)];
  }, [ss, sw, sr]);
  return sum ? { out, sum } : out;
}

export interface FusedRopeOptions {
  /** theta_i = base^(-2i/d); default 10000. */
  base?: number;
  /** 'half' pairs (i, i + d/2) (GPT-NeoX, default); 'interleaved' pairs (2i, 2i + 1) (GPT-J, Meta). */
  pairing?: 'half' | 'interleaved';
  /** Position of the first row (default 0): a cache of `offset` earlier tokens. */
  offset?: number;
  /** Rotate only the first rotaryDims dims of each head (even, <= D); default all. */
  rotaryDims?: number;
}

/** Rotary position embedding on x [B, H, T, D]: position offset + t. */
export function fusedRope<D extends DType>(x: Tensor<D>, opts?: FusedRopeOptions): Tensor<D> {
  const op = 'fusedRope';
  live(op, 'input', x);
  checkOptions(op, opts, ['base', 'pairing', 'offset', 'rotaryDims']);
  const base = opts?.base ?? 10000;
  const pairing = opts?.pairing ?? 'half';
  const offset = opts?.offset ?? 0;
  const rd = opts?.rotaryDims ?? 0;
  if (typeof base !== 'number' || !Number.isFinite(base) || base <= 0) throw new ValueError(op, `base must be a finite number > 0, got ${describe(base)}`);
  if (pairing !== 'half' && pairing !== 'interleaved') throw new ValueError(op, `pairing must be 'half' or 'interleaved', got ${JSON.stringify(pairing)}`);
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) throw new ValueError(op, `offset must be an integer >= 0, got ${describe(offset)}`);
  if (typeof rd !== 'number' || !Number.isInteger(rd) || rd < 0) throw new ValueError(op, `rotaryDims must be a positive even integer, got ${describe(rd)}`);
  const y = wrap<D>(native.rope(x.handle, base, pairing, offset, rd, false));
  if (!needsGrad(x)) return y;
  return attach(op, y, [x], (g) => [wrap(native.rope(g.handle, base, pairing, offset, rd, true))]);
}
