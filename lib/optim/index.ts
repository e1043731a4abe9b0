/** Optimizers, schedules, clipping and parameter groups. */
export { Optimizer } from './optimizer.js';
export type { GroupOptions, OptimizerStateDict, ParamGroup, ParamGroupInput, ParamState, SavedTensor, StepContext, StepEntry } from './optimizer.js';
export type { Adam8bitHyper, AdamHyper, LionHyper, NativeStepGroup, SgdHyper, SophiaHyper } from '../native.js';
export { SGD } from './sgd.js';
export type { SGDOptions } from './sgd.js';
export { Adam, AdamW } from './adamw.js';
export type { AdamOptions } from './adamw.js';
export { Adam8bit, AdamW8bit, quant8Map } from './adam8bit.js';
export type { Adam8bitExtra } from './adam8bit.js';
export { Lion } from './lion.js';
export type { LionOptions } from './lion.js';
export { SophiaG, gnbHessian } from './sophia.js';
export type { SophiaOptions } from './sophia.js';
export { clipGradNorm, gradNorm } from './clip.js';
export { isNoDecay, paramGroups } from './groups.js';
export type { NamedParamGroup } from './groups.js';
export { constantSchedule, inverseSqrtSchedule, warmupDecaySchedule } from './schedule.js';
export type { Schedule, WarmupDecayOptions } from './schedule.js';
