/**
 * SophiaG (Liu et al., "Sophia: A Scalable Stochastic Second-order Optimizer for Language Model
 * Pre-training", 2023, Algorithm 3 with the Gauss-Newton-Bartlett estimator).
 *
 * Every step: w ← w·(1 − lr·wd); m ← β1·m + (1−β1)·g; w ← w − lr·sign(m)·min(|m| / max(ρ·h, ε), 1).
 * Every k steps (default 10) a diagonal Hessian estimate ĥ refreshes h ← β2·h + (1−β2)·ĥ. Until the first
 * estimate h = 0, so the update is lr·sign(m), as in the authors' code.
 *
 * The Gauss-Newton-Bartlett estimator (GNB): for a batch of B outputs with logits z, sample labels
 * ŷ ~ softmax(z) from the model's own distribution, take ĝ = ∇ mean-loss(z, ŷ), and use ĥ = B·ĝ⊙ĝ.
 * `gnbHessian(params, forward)` computes that with the library's autograd. ĥ already holds B, so the
 * update uses ρ·h (the paper's ρ·B·h with h the EMA of ĝ⊙ĝ).
 *
 * Against the authors' code (github.com/Liuhong99/Sophia): their SophiaG stores h = EMA of ĝ⊙ĝ and divides
 * by ρ·bs·h, with bs passed to step() (their GPT-2 script passes the tokens per step, total_bs·block_size);
 * here the state holds the EMA of B·ĝ⊙ĝ, B the rows gnbHessian sampled, and the step divides by ρ·h. The
 * same run needs ρ_lmforge·B = ρ_paper·bs: the same ρ when the estimate samples as many rows as their bs
 * counts. Their script also clips ĝ to the gradient-clip norm (1.0) before update_hessian(); gnbHessian
 * does not clip. To match, scale every estimate by min(1, c² / ‖ĝ‖²) (c the clip norm) before updateHessian;
 * ‖ĝ‖² is the sum of all the estimates' elements over B. Their ε is 1e-15 added to the denominator; ours is
 * max(ρ·h, ε) with ε = 1e-12 (either matters only where ρ·h is tiny).
 *
 * ```ts
 * const opt = new SophiaG(model.parameters(), { lr: 2e-4, rho: 0.04 });
 * for (let step = 0; step < steps; step++) {
 *   tidy(() => { crossEntropy(model.forward(x), y).backward(); });
 *   opt.step();
 *   opt.zeroGrad();
 *   opt.afterStep({ logits: () => model.forward(x), seed: step }); // every k steps: gnbHessian + updateHessian
 * }
 * ```
 *
 * An estimate holding NaN or Inf is not folded in (h would stay NaN for good): updateHessian skips the whole
 * update, returns false and counts it in `skippedHessianUpdates`, as step() does with non-finite gradients.
 */
import { noGrad } from '../autograd/grad_mode.js';
import { ArgumentTypeError, ShapeError, ValueError } from '../errors.js';
import { tidy } from '../memory.js';
import { native, type NativeHessianGroup, type NativeStepGroup, type SophiaHyper } from '../native.js';
import { rand, tensor } from '../ops/creation.js';
import { crossEntropy, softmax } from '../ops/softmax_xent.js';
import { checkFunction, checkTensor, describe } from '../ops/util.js';
import { Tensor } from '../tensor.js';
import { Optimizer, zeroState, type GroupOptions, type ParamGroup, type ParamGroupInput, type ParamState, type StepContext, type StepEntry } from './optimizer.js';

export interface SophiaOptions extends GroupOptions {
  beta1: number;
  beta2: number;
  rho: number;
  eps: number;
}

export class SophiaG extends Optimizer<SophiaOptions, SophiaHyper> {
  get name(): string {
    return 'SophiaG';
  }
  /** Steps between Hessian estimates. */
  readonly hessianInterval: number;
  /** Hessian updates applied so far. */
  hessianUpdates = 0;
  /** Hessian updates skipped because an estimate held NaN or Inf. */
  skippedHessianUpdates = 0;

  constructor(params: readonly Tensor[] | readonly ParamGroupInput<SophiaOptions>[], opts: Partial<SophiaOptions> & { hessianInterval?: number } = {}) {
    const { hessianInterval = 10, ...rest } = opts;
    if (typeof hessianInterval !== 'number' || !Number.isInteger(hessianInterval) || hessianInterval < 1)
      throw new ValueError('SophiaG.constructor', `hessianInterval must be a positive integer, got ${String(hessianInterval)}`);
    super(params, { lr: 1e-4, weightDecay: 0.1, beta1: 0.965, beta2: 0.99, rho: 0.04, eps: 1e-12, ...rest }, {
      lr: { kind: 'number', min: 0 },
      weightDecay: { kind: 'number', min: 0 },
      beta1: { kind: 'number', min: 0, max: 1 },
      beta2: { kind: 'number', min: 0, max: 1 },
      rho: { kind: 'number', min: 0 },
      eps: { kind: 'number', min: 0 },
    });
    this.hessianInterval = hessianInterval;
  }

  protected initState(p: Tensor, _g: ParamGroup<SophiaOptions>): ParamState {
    return { expAvg: zeroState(p), hessian: zeroState(p) };
  }
  protected stepEntry(g: ParamGroup<SophiaOptions>, _step: number, st: ParamState): StepEntry<SophiaHyper> {
    return { hyper: { lr: g.lr, weightDecay: g.weightDecay, beta1: g.beta1, rho: g.rho, eps: g.eps }, states: [st.expAvg!, st.hessian!] };
  }
  protected runStep(groups: NativeStepGroup<SophiaHyper>[]): boolean {
    return native.sophiaStep(groups);
  }

  /** Every k-th applied step: a Gauss-Newton-Bartlett estimate on the context's logits (gnbHessian), folded in by updateHessian. */
  override afterStep(ctx: StepContext): void {
    if (!this.wantsHessian()) return;
    const estimates = gnbHessian(this.params, ctx.logits, { seed: ctx.seed, ...(ctx.distributed ? { distributed: ctx.distributed } : {}) });
    try {
      this.updateHessian(estimates);
    } finally {
      for (const e of estimates) e.dispose();
    }
  }

  /** True when a Hessian estimate is due after `step` applied steps (default: the steps so far): every k-th. */
  wantsHessian(step: number = this.stepCount): boolean {
    return step > 0 && step % this.hessianInterval === 0;
  }

  /**
   * Folds diagonal Hessian estimates (one per parameter, in `params` order, e.g. from gnbHessian) into the
   * EMA: h ← β2·h + (1−β2)·ĥ. Returns false, and changes nothing, when an estimate holds NaN or Inf
   * (`skippedHessianUpdates` counts those).
   */
  updateHessian(estimates: readonly Tensor[]): boolean {
    const op = this.opName('updateHessian');
    const params = this.params;
    if (!Array.isArray(estimates) || estimates.length !== params.length)
      throw new ValueError(op, `expected ${params.length} estimates (one per parameter), got ${Array.isArray(estimates) ? estimates.length : typeof estimates}`);
    const groups: NativeHessianGroup[] = [];
    let k = 0;
    for (const g of this.paramGroups) {
      const ng: NativeHessianGroup = { beta2: g.beta2, hessians: [], estimates: [] };
      g.params.forEach((p, i) => {
        const e = estimates[k++]!;
        if (!(e instanceof Tensor)) throw new ArgumentTypeError(op, `the estimate for ${g.names[i]} must be a Tensor`);
        if (e.shape.length !== p.shape.length || e.shape.some((d, j) => d !== p.shape[j]))
          throw new ShapeError(op, `the estimate for ${g.names[i]} has shape [${e.shape.join(', ')}], the parameter [${p.shape.join(', ')}]`);
        ng.hessians.push(this.stateOf(p, g).hessian!.handle);
        ng.estimates.push(e.handle);
      });
      groups.push(ng);
    }
    const applied = native.hessianEma(groups);
    if (applied) this.hessianUpdates += 1;
    else this.skippedHessianUpdates += 1;
    return applied;
  }
}

/**
 * The Gauss-Newton-Bartlett diagonal Hessian estimate B·ĝ⊙ĝ for each parameter: `forward()` computes the
 * logits [..., V] (with autograd on); labels are sampled from softmax(logits), the mean cross-entropy on
 * them is backpropagated, and B is the number of sampled rows. The parameters' own gradients are left
 * as they were. Parameters the loss does not reach get zeros.
 *
 * With `distributed` (data parallel), forward() gives this rank's N rows of the global N·worldSize: the
 * uniforms are drawn for all the global rows with the seed and the rank keeps its slice, so each row gets
 * the label one process would sample for it; ĝ is averaged over the ranks before squaring (the square of
 * the global mean gradient, not the mean of the squares) and B counts the global rows.
 */
export function gnbHessian(params: readonly Tensor[], forward: () => Tensor, opts: { seed?: number; distributed?: StepContext['distributed'] } = {}): Tensor<'float32'>[] {
  const op = 'gnbHessian';
  if (!Array.isArray(params)) throw new ArgumentTypeError(op, `params must be an array of Tensors, got ${describe(params)}`);
  params.forEach((p, i) => checkTensor(op, `params[${i}]`, p));
  checkFunction(op, 'forward', forward);
  const saved = params.map((p) => p.grad);
  for (const p of params) p.grad = null;
  try {
    const B = tidy(() => {
      const z = forward();
      if (!(z instanceof Tensor) || z.ndim < 1) throw new ArgumentTypeError(op, 'forward() must return the logits tensor [..., V]');
      const V = z.shape[z.ndim - 1]!;
      const N = z.size / V;
      const probs = noGrad(() => softmax(z.astype('float32'), -1).dataSync() as Float32Array);
      const { rank = 0, worldSize = 1 } = opts.distributed ?? {};
      const u = rand([N * worldSize], opts.seed === undefined ? {} : { seed: opts.seed }).dataSync() as Float32Array;
      const labels = new Int32Array(N);
      for (let r = 0; r < N; r++) {
        let acc = 0;
        let k = 0;
        const target = u[rank * N + r]!;
        for (; k < V - 1; k++) {
          acc += probs[r * V + k]!;
          if (target < acc) break;
        }
        labels[r] = k;
      }
      const y = tensor(labels, z.shape.slice(0, -1), 'int32', z.device); // beside the logits (CPU or CUDA)
      crossEntropy(z, y).backward();
      return N * worldSize;
    });
    // Zeros where the loss does not reach: every rank then reduces the same list of tensors.
    const grads = params.map((p) => noGrad(() => (p.grad ? p.grad.astype('float32') : tensor(new Float32Array(p.size), [...p.shape], 'float32', p.device))));
    try {
      opts.distributed?.averageGradients(grads);
      return grads.map((g) => noGrad(() => tidy(() => g.square().mul(B))));
    } finally {
      for (const g of grads) g.dispose();
    }
  } finally {
    params.forEach((p, i) => {
      p.grad?.dispose();
      p.grad = saved[i] as typeof p.grad;
    });
  }
}
