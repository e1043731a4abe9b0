/** Lion (Chen et al., "Symbolic Discovery of Optimization Algorithms", 2023). */
import { native, type LionHyper, type NativeStepGroup } from '../native.js';
import type { Tensor } from '../tensor.js';
import { Optimizer, zeroState, type GroupOptions, type ParamGroup, type ParamGroupInput, type ParamState, type StepEntry } from './optimizer.js';

export interface LionOptions extends GroupOptions {
  beta1: number;
  beta2: number;
}

/**
 * u = sign(β1·m + (1−β1)·g); w = w·(1 − lr·wd) − lr·u; m = β2·m + (1−β2)·g. One moment: 4 bytes per
 * parameter. Use a learning rate 3–10× smaller and a weight decay 3–10× larger than AdamW's.
 * Defaults: lr 1e-4, β = (0.9, 0.99), wd 0.
 */
export class Lion extends Optimizer<LionOptions, LionHyper> {
  get name(): string {
    return 'Lion';
  }
  constructor(params: readonly Tensor[] | readonly ParamGroupInput<LionOptions>[], opts: Partial<LionOptions> = {}) {
    super(params, { lr: 1e-4, weightDecay: 0, beta1: 0.9, beta2: 0.99, ...opts }, {
      lr: { kind: 'number', min: 0 },
      weightDecay: { kind: 'number', min: 0 },
      beta1: { kind: 'number', min: 0, max: 1 },
      beta2: { kind: 'number', min: 0, max: 1 },
    });
  }
  protected initState(p: Tensor, _g: ParamGroup<LionOptions>): ParamState {
    return { expAvg: zeroState(p) };
  }
  protected stepEntry(g: ParamGroup<LionOptions>, _step: number, st: ParamState): StepEntry<LionHyper> {
    return { hyper: { lr: g.lr, weightDecay: g.weightDecay, beta1: g.beta1, beta2: g.beta2 }, states: [st.expAvg!] };
  }
  protected runStep(groups: NativeStepGroup<LionHyper>[]): boolean {
    return native.lionStep(groups);
  }
}
