/**
 * The optimizer base: parameter groups (per-group lr, weight decay and options), one fused native call
 * per step over every parameter, NaN/Inf steps skipped and counted, and an exact state round trip.
 *
 * Parameters are leaves; `step()` writes their storage in place. bfloat16 parameters get a float32 master
 * copy in the optimizer state: the update runs on the master, which is then rounded into the parameter.
 * Each parameter appears once: a tensor listed twice (in one group or two) is a ValueError, and the fused
 * step refuses distinct tensors over the same memory, so nothing is ever updated twice in one step.
 *
 * What a subclass supplies is its contract with the native step: one builder, `stepEntry()`, that gives a
 * parameter's hyperparameters (the typed object of lib/native.ts the binding reads by name) and its state
 * tensors in the native order; `runStep()`, its fused native op; and optionally `afterStep()`, work between
 * steps that a training loop triggers (SophiaG's Hessian refresh).
 */
import type { DType } from '../dtype.js';
import { ArgumentTypeError, DeviceError, DisposedError, DTypeError, ShapeError, ValueError } from '../errors.js';
import { keep } from '../memory.js';
import type { NativeHandle, NativeStepGroup } from '../native.js';
import { tensor, zeros } from '../ops/creation.js';
import { Tensor } from '../tensor.js';
import { contiguousGrad } from './clip.js';

/** Options every group has. */
export interface GroupOptions {
  lr: number;
  weightDecay: number;
}

/** A parameter group as the user passes it: parameters plus any option overriding the defaults. */
export type ParamGroupInput<O> = { params: readonly Tensor[]; names?: readonly string[] } & Partial<O>;

/** A parameter group as the optimizer holds it. */
export type ParamGroup<O> = { params: Tensor[]; names: string[] } & O;

/** The state of one parameter: named tensors (optimizer-specific) and, for bfloat16 parameters, `master`. */
export type ParamState = Record<string, Tensor>;

export interface SavedTensor {
  dtype: DType;
  shape: number[];
  data: Float32Array | Uint8Array;
}

/** What `stateDict()` returns: plain data (typed arrays), deep-copied, safe to serialise. */
export interface OptimizerStateDict {
  optimizer: string;
  step: number;
  skippedSteps: number;
  groups: Record<string, unknown>[];
  /** Per group, per parameter (in order): the parameter's shape and its state tensors. */
  state: { shape: number[]; tensors: Record<string, SavedTensor> }[][];
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  if (typeof x === 'object') return (x as object).constructor?.name ?? 'an object';
  return `${typeof x} ${String(x)}`;
}

/** One parameter's part of a fused step, as an optimizer's builder makes it. */
export interface StepEntry<Hp> {
  /** Its hyperparameters for the step about to run; parameters with equal ones share a native group. */
  hyper: Hp;
  /** Its state tensors, in the order the native step takes them. */
  states: Tensor[];
}

/** What a training loop hands `afterStep()`. */
export interface StepContext {
  /** Recomputes the logits [..., V] of the step's last micro-batch with autograd on (for a second backward pass). */
  logits: () => Tensor;
  /** A seed for anything the hook samples; the Trainer passes the step, so a resumed run draws the same. */
  seed: number;
  /**
   * Data parallel (more than one rank): this rank's logits are rows [rank·N, (rank+1)·N) of the global
   * batch's N·worldSize, and averageGradients averages float32 tensors over the ranks in place. A hook that
   * samples or reduces must use it, so that the ranks do what one process does on the global batch.
   */
  distributed?: { rank: number; worldSize: number; averageGradients(grads: Tensor[]): void };
}

/** How an option is checked: a number range or a boolean. */
export interface OptionSpec {
  kind: 'number' | 'boolean';
  min?: number;
  max?: number;
  /** exclusive upper bound */
  below?: number;
}

export abstract class Optimizer<O extends GroupOptions = GroupOptions, Hp extends object = object> {
  /** The optimizer's name in messages and state dicts ('AdamW', 'Lion', ...). */
  abstract get name(): string;
  readonly paramGroups: ParamGroup<O>[] = [];
  /** Applied steps (skipped steps do not count: bias corrections follow the applied ones). */
  stepCount = 0;
  /** Steps skipped because a gradient held NaN or Inf. */
  skippedSteps = 0;
  protected readonly state = new Map<Tensor, ParamState>();
  protected readonly defaults: O;
  private readonly initialLr = new Map<ParamGroup<O>, number>();

  protected constructor(params: readonly Tensor[] | readonly ParamGroupInput<O>[], defaults: O, protected readonly specs: Record<string, OptionSpec>) {
    this.defaults = defaults;
    this.checkGroupOptions(defaults as unknown as Record<string, unknown>, 'options');
    if (!Array.isArray(params) || params.length === 0) throw new ValueError(this.opName('constructor'), 'needs a non-empty array of parameters or parameter groups');
    const groups: ParamGroupInput<O>[] = params[0] instanceof Tensor ? [{ params: params as Tensor[] } as unknown as ParamGroupInput<O>] : (params as ParamGroupInput<O>[]);
    for (const g of groups) this.addParamGroup(g);
  }

  protected opName(method: string): string {
    return `${this.name}.${method}`;
  }

  private checkGroupOptions(o: Record<string, unknown>, where: string): void {
    const op = this.opName('constructor');
    for (const [k, v] of Object.entries(o)) {
      if (k === 'params' || k === 'names') continue;
      const spec = this.specs[k];
      if (!spec) throw new ValueError(op, `unknown option '${k}' in ${where} (expected one of: ${Object.keys(this.specs).join(', ')})`);
      if (spec.kind === 'boolean') {
        if (typeof v !== 'boolean') throw new ArgumentTypeError(op, `${k} must be a boolean, got ${describe(v)}`);
        continue;
      }
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new ValueError(op, `${k} must be a finite number, got ${describe(v)}`);
      if (spec.min !== undefined && v < spec.min) throw new ValueError(op, `${k} must be >= ${spec.min}, got ${v}`);
      if (spec.max !== undefined && v > spec.max) throw new ValueError(op, `${k} must be <= ${spec.max}, got ${v}`);
      if (spec.below !== undefined && v >= spec.below) throw new ValueError(op, `${k} must be < ${spec.below}, got ${v}`);
    }
  }

  /** Adds a group; options it leaves out take the optimizer's defaults. */
  addParamGroup(input: ParamGroupInput<O>): void {
    const op = this.opName('addParamGroup');
    if (typeof input !== 'object' || input === null || !Array.isArray(input.params))
      throw new ArgumentTypeError(op, `a parameter group must be { params: Tensor[], ...options }, got ${describe(input)}`);
    this.checkGroupOptions(input as unknown as Record<string, unknown>, `group ${this.paramGroups.length}`);
    const gi = this.paramGroups.length;
    const names = input.names ? [...input.names] : input.params.map((_, i) => `group ${gi} parameter ${i}`);
    if (names.length !== input.params.length) throw new ValueError(op, `group ${gi} has ${input.params.length} parameters but ${names.length} names`);
    input.params.forEach((p, i) => {
      if (!(p instanceof Tensor)) throw new ArgumentTypeError(op, `${names[i]} must be a Tensor, got ${describe(p)}`);
      if (p.isDisposed) throw new DisposedError(op, `${names[i]} is a disposed tensor`);
      if (p.dtype !== 'float32' && p.dtype !== 'bfloat16') throw new DTypeError(op, `${names[i]} must be float32 or bfloat16, got ${p.dtype}`);
      if (!p.isLeaf) throw new ValueError(op, `${names[i]} is not a leaf tensor (optimizers update leaves in place)`);
      // One fused step updates every parameter on one device (the CPU or the CUDA twin).
      const first = this.paramGroups[0]?.params[0] ?? input.params[0]!;
      if (p.device !== first.device)
        throw new DeviceError(op, `${names[i]} is on ${p.device} but the optimizer's other parameters are on ${first.device} (one device per optimizer)`);
      // Listed twice, a parameter would be stepped twice per step(). PyTorch refuses it across groups and
      // warns within one; here both are errors (the fused step also refuses tensors that share memory).
      this.paramGroups.forEach((g, k) => {
        if (g.params.includes(p)) throw new ValueError(op, `${names[i]} already belongs to group ${k} (list each parameter once)`);
      });
      const j = input.params.indexOf(p);
      if (j < i) throw new ValueError(op, `${names[i]} is the same tensor as ${names[j]} (list each parameter once)`);
    });
    const group = { ...this.defaults, ...input, params: [...input.params], names } as unknown as ParamGroup<O>;
    this.paramGroups.push(group);
    this.initialLr.set(group, group.lr);
  }

  /** Every parameter, in group order. */
  get params(): Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  /** Sets every group's lr to `lr` times the group's initial lr over the default lr (keeps per-group ratios). */
  setLr(lr: number): void {
    if (typeof lr !== 'number' || !Number.isFinite(lr) || lr < 0) throw new ValueError(this.opName('setLr'), `lr must be a non-negative finite number, got ${describe(lr)}`);
    for (const g of this.paramGroups) {
      const ratio = this.defaults.lr > 0 ? this.initialLr.get(g)! / this.defaults.lr : 1;
      g.lr = lr * ratio;
    }
  }

  /** Drops every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  // ---- what a subclass supplies ----

  /** Creates the state of a parameter (without `master`). */
  protected abstract initState(p: Tensor, group: ParamGroup<O>): ParamState;
  /** The builder: a parameter's hyperparameters for the step about to run (step = stepCount + 1) and its state tensors in native order. */
  protected abstract stepEntry(group: ParamGroup<O>, step: number, st: ParamState): StepEntry<Hp>;
  /** The fused native step over every group (it checks the gradients for NaN/Inf itself: false when it skipped). */
  protected abstract runStep(groups: NativeStepGroup<Hp>[]): boolean;

  /**
   * Called by a training loop after each step() and zeroGrad(), applied or skipped: an optimizer with work
   * between steps does it here (SophiaG refreshes its Hessian estimate every k steps). The default does nothing.
   */
  afterStep(_ctx: StepContext): void {}

  protected stateOf(p: Tensor, group: ParamGroup<O>): ParamState {
    let st = this.state.get(p);
    if (!st) {
      st = this.initState(p, group);
      if (p.dtype === 'bfloat16') st.master = keep(p.astype('float32'));
      for (const t of Object.values(st)) keep(t);
      this.state.set(p, st);
    }
    return st;
  }

  /**
   * One update of every parameter from its gradient. Returns false (and changes nothing) when a gradient
   * holds NaN or Inf; `skippedSteps` counts those. A parameter without a gradient is an error.
   */
  step(): boolean {
    const groups: NativeStepGroup<Hp>[] = [];
    const step = this.stepCount + 1;
    for (const group of this.paramGroups) {
      this.checkGroupOptions(group as unknown as Record<string, unknown>, 'a parameter group');
      group.params.forEach((p, i) => {
        if (p.isDisposed) throw new DisposedError(this.opName('step'), `${group.names[i]} has been disposed`);
        const g = contiguousGrad(p);
        if (!g) throw new ValueError(this.opName('step'), `${group.names[i]} (shape [${p.shape.join(', ')}]) has no gradient: run backward() first, or leave it out of the optimizer`);
        if (g.shape.length !== p.shape.length || g.shape.some((d, k) => d !== p.shape[k]))
          throw new ShapeError(this.opName('step'), `the gradient of ${group.names[i]} has shape [${g.shape.join(', ')}] but the parameter has [${p.shape.join(', ')}]`);
        const st = this.stateOf(p, group);
        const e = this.stepEntry(group, step, st);
        // Consecutive parameters with equal hyperparameters share one native group (usually a whole group).
        let ng = groups[groups.length - 1];
        if (!ng || !sameHyper(ng.hyper, e.hyper)) {
          ng = { hyper: e.hyper, params: [], grads: [], masters: [], states: [] };
          groups.push(ng);
        }
        ng.params.push(p.handle);
        ng.grads.push(g.handle);
        ng.masters.push(st.master ? st.master.handle : null);
        ng.states.push(e.states.map((t) => t.handle));
      });
    }
    // The native step checks every gradient for NaN/Inf itself, in the same call that applies them: no
    // result of clipGradNorm is trusted, since a gradient may be written between the two.
    const applied = this.runStep(groups);
    if (applied) this.stepCount = step;
    else this.skippedSteps += 1;
    return applied;
  }

  // ---- memory ----

  /** Bytes of optimizer state (including float32 masters of bfloat16 parameters), for one parameter or all. */
  stateBytes(param?: Tensor): number {
    const bytesOf = (st: ParamState) => Object.values(st).reduce((s, t) => s + t.size * dtypeBytes(t.dtype), 0);
    if (param) {
      const group = this.paramGroups.find((g) => g.params.includes(param));
      if (!group) throw new ValueError(this.opName('stateBytes'), 'the tensor is not a parameter of this optimizer');
      return bytesOf(this.stateOf(param, group));
    }
    let total = 0;
    for (const group of this.paramGroups) for (const p of group.params) total += bytesOf(this.stateOf(p, group));
    return total;
  }

  /** Frees every state tensor (the optimizer starts afresh on the next step). */
  dispose(): void {
    for (const st of this.state.values()) for (const t of Object.values(st)) t.dispose();
    this.state.clear();
  }

  // ---- state round trip ----

  stateDict(): OptimizerStateDict {
    const groups = this.paramGroups.map((g) => {
      const o: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(g)) if (k !== 'params' && k !== 'names') o[k] = v;
      return o;
    });
    const state = this.paramGroups.map((g) =>
      g.params.map((p) => {
        const st = this.stateOf(p, g);
        const tensors: Record<string, SavedTensor> = {};
        for (const [k, t] of Object.entries(st)) {
          const data = t.dataSync();
          tensors[k] = { dtype: t.dtype, shape: [...t.shape], data: data instanceof Uint8Array ? new Uint8Array(data) : new Float32Array(data as Float32Array) };
        }
        return { shape: [...p.shape], tensors };
      }),
    );
    return { optimizer: this.name, step: this.stepCount, skippedSteps: this.skippedSteps, groups, state };
  }

  /** Restores a stateDict() of an optimizer of the same kind over parameters of the same shapes. */
  loadStateDict(sd: OptimizerStateDict): void {
    const op = this.opName('loadStateDict');
    if (typeof sd !== 'object' || sd === null || !Array.isArray(sd.groups) || !Array.isArray(sd.state))
      throw new ArgumentTypeError(op, `expected an object from stateDict(), got ${describe(sd)}`);
    if (sd.optimizer !== this.name) throw new ValueError(op, `the state is from ${String(sd.optimizer)}, not ${this.name}`);
    if (sd.groups.length !== this.paramGroups.length || sd.state.length !== this.paramGroups.length)
      throw new ValueError(op, `the state has ${sd.groups.length} parameter groups, this optimizer has ${this.paramGroups.length}`);
    // Check everything before changing anything.
    const fresh: ParamState[][] = [];
    this.paramGroups.forEach((g, gi) => {
      const saved = sd.state[gi]!;
      if (saved.length !== g.params.length) throw new ValueError(op, `group ${gi} of the state has ${saved.length} parameters, this optimizer's has ${g.params.length}`);
      this.checkGroupOptions(sd.groups[gi] as Record<string, unknown>, `group ${gi} of the state`);
      fresh.push(
        g.params.map((p, i) => {
          const s = saved[i]!;
          if (s.shape.length !== p.shape.length || s.shape.some((d, k) => d !== p.shape[k]))
            throw new ShapeError(op, `${g.names[i]} has shape [${p.shape.join(', ')}] but its saved state is for [${s.shape.join(', ')}]`);
          const expect = this.stateOf(p, g);
          const want = Object.keys(expect).sort().join(', ');
          const got = Object.keys(s.tensors).sort().join(', ');
          if (want !== got) throw new ValueError(op, `${g.names[i]}: the saved state holds {${got}}, this optimizer keeps {${want}}`);
          const st: ParamState = {};
          for (const [k, t] of Object.entries(expect)) {
            const v = s.tensors[k]!;
            if (v.dtype !== t.dtype || v.shape.length !== t.shape.length || v.shape.some((d, j) => d !== t.shape[j]) || v.data.length !== t.size)
              throw new ValueError(op, `${g.names[i]}: saved '${k}' is ${v.dtype} [${v.shape.join(', ')}], expected ${t.dtype} [${t.shape.join(', ')}]`);
          }
          for (const [k, t] of Object.entries(expect)) {
            const v = s.tensors[k]!;
            st[k] = keep(tensor(v.data instanceof Uint8Array ? new Uint8Array(v.data) : new Float32Array(v.data), v.shape, t.dtype as 'float32'));
          }
          return st;
        }),
      );
    });
    this.paramGroups.forEach((g, gi) => {
      g.params.forEach((p, i) => {
        const old = this.state.get(p);
        if (old) for (const t of Object.values(old)) t.dispose();
        this.state.set(p, fresh[gi]![i]!);
      });
      Object.assign(g, sd.groups[gi]);
    });
    this.stepCount = sd.step;
    this.skippedSteps = sd.skippedSteps;
  }
}

function sameHyper(a: object, b: object): boolean {
  const x = a as Record<string, unknown>, y = b as Record<string, unknown>;
  for (const k in x) if (x[k] !== y[k]) return false;
  return true;
}

function dtypeBytes(d: DType): number {
  return d === 'float64' ? 8 : d === 'float32' || d === 'int32' ? 4 : d === 'bfloat16' || d === 'float16' ? 2 : 1;
}

/** A float32 zero state tensor like p. */
export function zeroState(p: Tensor): Tensor<'float32'> {
  // On the parameter's device: the fused step runs where the parameters are (CPU or CUDA twin).
  return zeros(p.shape, { dtype: 'float32', device: p.device });
}
