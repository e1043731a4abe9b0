/** Adam (L2 weight decay added to the gradient) and AdamW (decoupled weight decay), as PyTorch defines them. */
import { native, type AdamHyper, type NativeStepGroup } from '../native.js';
import type { Tensor } from '../tensor.js';
import { Optimizer, zeroState, type GroupOptions, type ParamGroup, type ParamGroupInput, type ParamState, type StepEntry } from './optimizer.js';

export interface AdamOptions extends GroupOptions {
  beta1: number;
  beta2: number;
  eps: number;
}

export const ADAM_SPECS = {
  lr: { kind: 'number', min: 0 },
  weightDecay: { kind: 'number', min: 0 },
  beta1: { kind: 'number', min: 0, below: 1 },
  beta2: { kind: 'number', min: 0, below: 1 },
  eps: { kind: 'number', min: 0 },
} as const;

/** Adam's options with the defaults filled in (weight decay `defaultWd` unless given). */
export function adamDefaults(opts: Partial<AdamOptions>, defaultWd: number): AdamOptions {
  return { lr: 1e-3, weightDecay: defaultWd, beta1: 0.9, beta2: 0.999, eps: 1e-8, ...opts };
}

/** Adam's hyperparameters for the native step (shared by Adam, AdamW and the 8-bit variants). */
export function adamHyper(g: ParamGroup<AdamOptions>, step: number, decoupled: boolean): AdamHyper {
  return { lr: g.lr, weightDecay: g.weightDecay, beta1: g.beta1, beta2: g.beta2, eps: g.eps, decoupled, step };
}

/** Float32 first and second moments. */
export function adamState(p: Tensor): ParamState {
  return { expAvg: zeroState(p), expAvgSq: zeroState(p) };
}

/**
 * m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; w −= lr/(1−β1^t) · m / (√v/√(1−β2^t) + ε).
 * Adam adds wd·w to g first (L2); AdamW multiplies w by (1 − lr·wd) first (Loshchilov & Hutter).
 * fp32 state: 8 bytes per parameter.
 */
export class Adam extends Optimizer<AdamOptions, AdamHyper> {
  get name(): string {
    return 'Adam';
  }
  protected readonly decoupled: boolean = false;
  constructor(params: readonly Tensor[] | readonly ParamGroupInput<AdamOptions>[], opts: Partial<AdamOptions> = {}, defaultWd = 0) {
    super(params, adamDefaults(opts, defaultWd), ADAM_SPECS);
  }
  protected initState(p: Tensor, _group: ParamGroup<AdamOptions>): ParamState {
    return adamState(p);
  }
  protected stepEntry(g: ParamGroup<AdamOptions>, step: number, st: ParamState): StepEntry<AdamHyper> {
    return { hyper: adamHyper(g, step, this.decoupled), states: [st.expAvg!, st.expAvgSq!] };
  }
  protected runStep(groups: NativeStepGroup<AdamHyper>[]): boolean {
    return native.adamStep(groups);
  }
}

/** AdamW: Adam with decoupled weight decay (default 0.01, as PyTorch). */
export class AdamW extends Adam {
  override get name(): string {
    return 'AdamW';
  }
  protected override readonly decoupled: boolean = true;
  constructor(params: readonly Tensor[] | readonly ParamGroupInput<AdamOptions>[], opts: Partial<AdamOptions> = {}) {
    super(params, opts, 0.01);
  }
}
