/** SGD with momentum, dampening, Nesterov momentum and (L2) weight decay, as PyTorch defines it. */
import { native, type NativeStepGroup, type SgdHyper } from '../native.js';
import type { Tensor } from '../tensor.js';
import { Optimizer, zeroState, type GroupOptions, type ParamGroup, type ParamGroupInput, type ParamState, type StepEntry } from './optimizer.js';

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
export class SGD extends Optimizer<SGDOptions, SgdHyper> {
  get name(): string {
    return 'SGD';
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
  protected stepEntry(g: ParamGroup<SGDOptions>, step: number, st: ParamState): StepEntry<SgdHyper> {
    // A group whose momentum changed from 0 after its state was made keeps stepping without a buffer.
    // The buffer starts as g' on step 1 (for a parameter added later it starts from zero, which differs
    // only when dampening > 0).
    const m = st.momentum;
    return {
      hyper: { lr: g.lr, weightDecay: g.weightDecay, momentum: m ? g.momentum : 0, dampening: g.dampening, nesterov: g.nesterov, step },
      states: m ? [m] : [],
    };
  }
  protected runStep(groups: NativeStepGroup<SgdHyper>[]): boolean {
    return native.sgdStep(groups);
  }
}
