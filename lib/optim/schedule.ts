/**
 * Learning-rate schedules: pure functions of the step (0-based) returning the learning rate.
 * Apply one with `optimizer.setLr(schedule(step))` before each step.
 */
import { ValueError } from '../errors.js';
import { checkObject } from '../ops/util.js';

export type Schedule = (step: number) => number;

function num(op: string, name: string, v: unknown, min = 0): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw new ValueError(op, `${name} must be a finite number >= ${min}, got ${String(v)}`);
  return v;
}

function stepArg(op: string, step: number): number {
  if (typeof step !== 'number' || !Number.isInteger(step) || step < 0) throw new ValueError(op, `step must be a non-negative integer, got ${String(step)}`);
  return step;
}

/** The same lr at every step. */
export function constantSchedule(lr: number): Schedule {
  num('constantSchedule', 'lr', lr);
  return (step) => (stepArg('constantSchedule', step), lr);
}

export interface WarmupDecayOptions {
  /** Peak learning rate, reached at the end of warm-up. */
  lr: number;
  warmupSteps: number;
  /** Step at which the decay reaches the floor (it stays there after). */
  totalSteps: number;
  /** Floor, as a learning rate (default 0). */
  minLr?: number;
  decay?: 'cosine' | 'linear';
}

/**
 * Linear warm-up from lr/warmupSteps (step 0) to lr (step warmupSteps − 1), then cosine or linear decay
 * to minLr at totalSteps, then minLr.
 */
export function warmupDecaySchedule(opts: WarmupDecayOptions): Schedule {
  const op = 'warmupDecaySchedule';
  checkObject(op, 'options', opts);
  const lr = num(op, 'lr', opts.lr);
  const warm = num(op, 'warmupSteps', opts.warmupSteps);
  const total = num(op, 'totalSteps', opts.totalSteps);
  const minLr = num(op, 'minLr', opts.minLr ?? 0);
  const decay = opts.decay ?? 'cosine';
  if (decay !== 'cosine' && decay !== 'linear') throw new ValueError(op, `decay must be 'cosine' or 'linear', got ${JSON.stringify(decay)}`);
  if (total < warm) throw new ValueError(op, `totalSteps (${total}) must be >= warmupSteps (${warm})`);
  if (minLr > lr) throw new ValueError(op, `minLr (${minLr}) must be <= lr (${lr})`);
  return (step) => {
    stepArg(op, step);
    if (step < warm) return (lr * (step + 1)) / warm;
    if (step >= total || total === warm) return minLr;
    const t = (step - warm) / (total - warm);
    const f = decay === 'cosine' ? 0.5 * (1 + Math.cos(Math.PI * t)) : 1 - t;
    return minLr + (lr - minLr) * f;
  };
}

/** Linear warm-up to lr, then lr·√(warmupSteps / (step + 1)) (the Transformer paper's shape). */
export function inverseSqrtSchedule(opts: { lr: number; warmupSteps: number }): Schedule {
  const op = 'inverseSqrtSchedule';
  checkObject(op, 'options', opts);
  const lr = num(op, 'lr', opts.lr);
  const warm = num(op, 'warmupSteps', opts.warmupSteps, 1);
  return (step) => {
    stepArg(op, step);
    if (step < warm) return (lr * (step + 1)) / warm;
    return lr * Math.sqrt(warm / (step + 1));
  };
}
