/**
 * Where a training step's time goes: wall time per native op call, keyed by the op's name and the phase
 * it ran in (forward, backward, optimizer), and the time outside native calls (TypeScript, autograd
 * bookkeeping, handle reads and disposals) as the remainder of the wall time.
 *
 * Off by default and nearly free when off: every function of lib/native.ts's `native` table calls through
 * one wrapper, which times the call only while an observer is set (`setNativeObserver`, one null check
 * otherwise); `startProfile()` sets this module's and `stopProfile()` clears it. The table itself is never
 * changed, so every native call is seen however its caller reached the function. Methods of tensor
 * handles (read, dispose) are not native-table functions: their time is part of "outside native ops".
 *
 * The phase is 'backward' while Tensor.backward() runs (wrapped the same way while profiling),
 * 'optimizer' for the fused optimizer and clipping calls, and 'forward' otherwise.
 */
import { setNativeObserver } from '../native.js';
import { Tensor } from '../tensor.js';
import { ValueError } from '../errors.js';

export type ProfilePhase = 'forward' | 'backward' | 'optimizer';

export interface OpTime {
  op: string;
  phase: ProfilePhase;
  calls: number;
  seconds: number;
}

export interface ProfileData {
  /** Wall seconds between startProfile() and stopProfile(). */
  wallSeconds: number;
  /** Sum of all native calls' seconds. */
  nativeSeconds: number;
  /** Biggest first. */
  ops: OpTime[];
}

const OPTIMIZER_OPS = new Set(['sgdStep', 'adamStep', 'adam8bitStep', 'lionStep', 'sophiaStep', 'clipGradNorm', 'hessianEma']);

interface Session {
  t0: number;
  backward: Tensor['backward'];
  stats: Map<string, OpTime>;
  backwardDepth: number;
}

let session: Session | null = null;

/** True between startProfile() and stopProfile(). */
export function isProfiling(): boolean {
  return session !== null;
}

/** Starts recording every native call. One profile at a time. */
export function startProfile(): void {
  if (session) throw new ValueError('startProfile', 'a profile is already running (call stopProfile() first)');
  const s: Session = { t0: 0, backward: Tensor.prototype.backward, stats: new Map(), backwardDepth: 0 };
  const record = (name: string, seconds: number): void => {
    const phase: ProfilePhase = OPTIMIZER_OPS.has(name) ? 'optimizer' : s.backwardDepth > 0 ? 'backward' : 'forward';
    const key = `${name}\u0000${phase}`;
    const st = s.stats.get(key);
    if (st) {
      st.calls += 1;
      st.seconds += seconds;
    } else {
      s.stats.set(key, { op: name, phase, calls: 1, seconds });
    }
  };
  const backward = s.backward;
  Tensor.prototype.backward = function (this: Tensor, ...args: Parameters<Tensor['backward']>): void {
    s.backwardDepth += 1;
    try {
      backward.apply(this, args);
    } finally {
      s.backwardDepth -= 1;
    }
  };
  setNativeObserver(record);
  session = s;
  s.t0 = performance.now();
}

/** Stops recording and returns what was recorded. */
export function stopProfile(): ProfileData {
  const s = session;
  if (!s) throw new ValueError('stopProfile', 'no profile is running (call startProfile() first)');
  const wallSeconds = (performance.now() - s.t0) / 1000;
  setNativeObserver(null);
  Tensor.prototype.backward = s.backward;
  session = null;
  const ops = [...s.stats.values()].sort((a, b) => b.seconds - a.seconds);
  return { wallSeconds, nativeSeconds: ops.reduce((t, o) => t + o.seconds, 0), ops };
}

/** Runs fn with profiling on (stopping it even when fn throws). */
export function profile<T>(fn: () => T): { result: T; profile: ProfileData } {
  startProfile();
  let data: ProfileData | undefined;
  try {
    const result = fn();
    data = stopProfile();
    return { result, profile: data };
  } finally {
    if (!data && session) stopProfile();
  }
}

export interface BreakdownRow {
  op: string;
  phase: ProfilePhase;
  callsPerStep: number;
  msPerStep: number;
  /** Of the step's wall time. */
  share: number;
}

export interface StepBreakdown {
  steps: number;
  stepMs: number;
  rows: BreakdownRow[];
  /** Wall time not spent inside native calls: TypeScript, autograd, handle reads and disposals. */
  outsideMsPerStep: number;
  outsideShare: number;
  /** Per phase: native ms per step. */
  phaseMs: Record<ProfilePhase, number>;
}

/** Per-step figures from a profile that covered `steps` whole steps and nothing else. */
export function stepBreakdown(data: ProfileData, steps: number): StepBreakdown {
  if (!Number.isInteger(steps) || steps < 1) throw new ValueError('stepBreakdown', `steps must be an integer >= 1, got ${steps}`);
  const stepMs = (data.wallSeconds * 1000) / steps;
  const rows = data.ops.map((o) => ({
    op: o.op, phase: o.phase, callsPerStep: o.calls / steps, msPerStep: (o.seconds * 1000) / steps,
    share: stepMs > 0 ? (o.seconds * 1000) / steps / stepMs : 0,
  }));
  const phaseMs: Record<ProfilePhase, number> = { forward: 0, backward: 0, optimizer: 0 };
  for (const r of rows) phaseMs[r.phase] += r.msPerStep;
  const outsideMsPerStep = Math.max(0, stepMs - (data.nativeSeconds * 1000) / steps);
  return { steps, stepMs, rows, outsideMsPerStep, outsideShare: stepMs > 0 ? outsideMsPerStep / stepMs : 0, phaseMs };
}

/** A Markdown table: op, phase, calls per step, ms per step, share; rows under minShare are folded into one. */
export function breakdownMarkdown(b: StepBreakdown, opts: { minShare?: number } = {}): string {
  const minShare = opts.minShare ?? 0.005;
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  const shown = b.rows.filter((r) => r.share >= minShare);
  const rest = b.rows.filter((r) => r.share < minShare);
  const lines = [
    `Profile of ${b.steps} step(s), ${b.stepMs.toFixed(0)} ms per step (profiling adds two clock reads per native call). Native time by phase: forward ${b.phaseMs.forward.toFixed(0)} ms, backward ${b.phaseMs.backward.toFixed(0)} ms, optimizer ${b.phaseMs.optimizer.toFixed(0)} ms.`,
    '',
    '| native op | phase | calls/step | ms/step | share of step |',
    '| --- | --- | ---: | ---: | ---: |',
    ...shown.map((r) => `| ${r.op} | ${r.phase} | ${fmtCalls(r.callsPerStep)} | ${r.msPerStep.toFixed(1)} | ${pct(r.share)} |`),
  ];
  if (rest.length) {
    const calls = rest.reduce((t, r) => t + r.callsPerStep, 0), ms = rest.reduce((t, r) => t + r.msPerStep, 0);
    lines.push(`| ${rest.length} other (op, phase) pairs | | ${fmtCalls(calls)} | ${ms.toFixed(1)} | ${pct(b.stepMs > 0 ? ms / b.stepMs : 0)} |`);
  }
  lines.push(`| outside native ops (TypeScript, autograd, handle reads/disposal) | | | ${b.outsideMsPerStep.toFixed(1)} | ${pct(b.outsideShare)} |`);
  return lines.join('\n');
}

function fmtCalls(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(1);
}
