/** Adam (L2 weight decay added to the gradient) and AdamW (decoupled weight decay), as PyTorch defines them. */
import { native } from '../native.js';
import type { Tensor } from '../tensor.js';
import { Optimizer, zeroState, type GroupOptions, type NativeStepFn, type ParamGroup, type ParamGroupInput, type ParamState } from './optimizer.js';

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

/**
 * m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; w −= lr/(1−β1^t) · m / (√v/√(1−β2^t) + ε).
 * Adam adds wd·w to g first (L2); AdamW multiplies w by (1 − lr·wd) first (Loshchilov & Hutter).
 * fp32 state: 8 bytes per parameter.
 */
export class Adam extends Optimizer<AdamOptions> {
  get name(): string {
    return 'Adam';
  }
  protected readonly decoupled: boolean = false;
  // A getter, not a field: lib/bench/profile.ts swaps the native table's functions while it records.
  protected get nativeStep(): NativeStepFn {
    return native.adamStep;
  }
  constructor(params: readonly Tensor[] | readonly ParamGroupInput<AdamOptions>[], opts: Partial<AdamOptions> = {}, defaultWd = 0) {
    super(params, { lr: 1e-3, weightDecay: defaultWd, beta1: 0.9, beta2: 0.999, eps: 1e-8, ...opts }, ADAM_SPECS);
  }
  protected initState(p: Tensor, _group: ParamGroup<AdamOptions>): ParamState {
    return { expAvg: zeroState(p), expAvgSq: zeroState(p) };
  }
  protected stateOrder(st: ParamState): Tensor[] {
    return [st.expAvg!, st.expAvgSq!];
  }
  protected hyper(g: ParamGroup<AdamOptions>, step: number): number[] {
    return [g.lr, g.weightDecay, g.beta1, g.beta2, g.eps, this.decoupled ? 1 : 0, step];
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
