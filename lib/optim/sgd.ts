/** SGD with momentum, dampening, Nesterov momentum and (L2) weight decay, as PyTorch defines it. */
import { native } from '../native.js';
import type { Tensor } from '../tensor.js';
import { Optimizer, zeroState, type GroupOptions, type NativeStepFn, type ParamGroup, type ParamGroupInput, type ParamState } from './optimizer.js';

export interface SGDOptions extends GroupOptions {
  momentum: number;
  dampening: number;
  nesterov: boolean;
}

/**
 * g' = g + wd·w; with momentum μ: buf = g' on the first step, else μ·buf + (1 − dampening)·g';
 * d = Nesterov ? g' + μ·buf : buf (g' without momentum); w −= lr·d. State: 4 bytes per parameter with
 * momentum, none without.
 */
export class SGD extends Optimizer<SGDOptions> {
  get name(): string {
    return 'SGD';
  }
  // A getter, not a field: lib/bench/profile.ts swaps the native table's functions while it records.
  protected get nativeStep(): NativeStepFn {
    return native.sgdStep;
  }
  constructor(params: readonly Tensor[] | readonly ParamGroupInput<SGDOptions>[], opts: Partial<SGDOptions> = {}) {
    super(params, { lr: 1e-2, weightDecay: 0, momentum: 0, dampening: 0, nesterov: false, ...opts }, {
      lr: { kind: 'number', min: 0 },
      weightDecay: { kind: 'number', min: 0 },
      momentum: { kind: 'number', min: 0 },
      dampening: { kind: 'number', min: 0, max: 1 },
      nesterov: { kind: 'boolean' },
    });
  }
  protected initState(p: Tensor, group: ParamGroup<SGDOptions>): ParamState {
    return group.momentum > 0 ? { momentum: zeroState(p) } : {};
  }
  protected stateOrder(st: ParamState): Tensor[] {
    return st.momentum ? [st.momentum] : [];
  }
  protected hyper(g: ParamGroup<SGDOptions>, step: number, st: ParamState): number[] {
    // A group whose momentum changed from 0 after its state was made keeps stepping without a buffer.
    // The buffer starts as g' on step 1 (for a parameter added later it starts from zero, which differs
    // only when dampening > 0).
    return [g.lr, g.weightDecay, st.momentum ? g.momentum : 0, g.dampening, g.nesterov ? 1 : 0, step];
  }
}
