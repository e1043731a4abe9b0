/**
 * Module: the base of every layer and model. A module owns named parameters and named child modules;
 * dotted names (`blocks.0.attn.qkv.weight`) come from walking that tree, so state dicts, optimizers and
 * logs all see the same names.
 *
 * Parameters live in a map, and subclasses read them through getters (`get weight()`), never through a
 * field copied at construction: that is what lets `to(device)` replace a parameter, and
 * `withParameters()` substitute one for a functional call (gradcheck, meta-learning), without every
 * module having to know.
 */
import type { Device, DType } from '../dtype.js';
import { isFloatDType } from '../dtype.js';
import { ArgumentTypeError, DisposedError, DTypeError, ShapeError, ValueError } from '../errors.js';
import { noGrad } from '../autograd/grad_mode.js';
import { keep, withoutScope } from '../memory.js';
import { copyInto } from '../ops/views.js';
import { Tensor } from '../tensor.js';
import { checkDevice, checkObject, describe, showValue } from '../ops/util.js';
import { OptionReader } from './option_reader.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$|^[0-9]+$/;

function fmt(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export type StateDict = Record<string, Tensor>;

export interface LoadStateDictOptions {
  /** Require exactly the module's keys (default true). With false, missing and unexpected keys are skipped. */
  strict?: boolean;
}

export abstract class Module {
  /** Training mode (dropout active). Set with train() / eval(), which recurse into children. */
  training = true;
  readonly #params = new Map<string, Tensor>();
  readonly #children = new Map<string, Module>();

  /**
   * Registers a parameter under `name` (an identifier, unique in this module). It becomes a leaf that
   * requires a gradient and is kept out of every tidy() scope, so a model built inside tidy() survives.
   */
  protected registerParameter<D extends DType>(name: string, t: Tensor<D>): Tensor<D> {
    this.checkName('registerParameter', name);
    if (!(t instanceof Tensor)) throw new ValueError('registerParameter', `parameter '${name}' must be a Tensor`);
    if (!isFloatDType(t.dtype)) throw new DTypeError('registerParameter', `parameter '${name}' must be floating-point, got ${t.dtype}`);
    if (!t.isLeaf) throw new ValueError('registerParameter', `parameter '${name}' must be a leaf tensor (detach() it first)`);
    t.requiresGrad = true;
    this.#params.set(name, keep(t));
    return t;
  }

  /** Registers a child module under `name`; its parameters appear as `name.<param>`. */
  protected registerModule<M extends Module>(name: string, m: M): M {
    this.checkName('registerModule', name);
    if (!(m instanceof Module)) throw new ValueError('registerModule', `child '${name}' must be a Module`);
    this.#children.set(name, m);
    return m;
  }

  private checkName(op: string, name: string): void {
    if (typeof name !== 'string' || !NAME.test(name)) throw new ValueError(op, `name must be an identifier or an index, got ${showValue(name)}`);
    if (this.#params.has(name) || this.#children.has(name)) throw new ValueError(op, `name '${name}' is already registered in ${this.constructor.name}`);
  }

  /** This module's own parameter `name` (for the subclasses' getters). */
  protected param<D extends DType = DType>(name: string): Tensor<D> {
    const t = this.#params.get(name);
    if (!t) throw new ValueError(this.constructor.name, `no parameter named '${name}'`);
    return t as Tensor<D>;
  }

  /** (name, child) pairs of the direct children, in registration order. */
  namedChildren(): [string, Module][] {
    return [...this.#children];
  }

  children(): Module[] {
    return [...this.#children.values()];
  }

  /** This module (named '') and every descendant, depth first, with dotted names. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, c] of this.#children) out.push(...c.namedModules(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  /**
   * Every parameter with its dotted name: own parameters first, then each child's in registration
   * order. A tensor shared by two modules is listed once, under its first name.
   */
  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [prefix, m] of this.namedModules()) {
      for (const [n, t] of m.#params) {
        if (seen.has(t)) continue;
        seen.add(t);
        out.push([prefix ? `${prefix}.${n}` : n, t]);
      }
    }
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Number of scalar parameters (shared tensors counted once). */
  numParameters(): number {
    return this.parameters().reduce((n, t) => n + t.size, 0);
  }

  /** Sets training mode here and in every descendant. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  /** Evaluation mode: train(false). */
  eval(): this {
    return this.train(false);
  }

  /** Drops every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  /**
   * A snapshot of every parameter by dotted name: copies that share no storage with the model (so
   * training on does not change a saved state) and require no gradient.
   */
  stateDict(): StateDict {
    const out: StateDict = {};
    noGrad(() => {
      for (const [n, t] of this.namedParameters()) out[n] = t.clone();
    });
    return out;
  }

  /**
   * Copies `state` into the parameters, in place (so references to them stay valid). Every check runs
   * before anything is written: missing and unexpected keys (with strict), shapes and dtypes must match.
   */
  loadStateDict(state: StateDict | Map<string, Tensor>, opts: LoadStateDictOptions = {}): void {
    const op = 'loadStateDict';
    const strict = new OptionReader(op, opts, ['strict']).bool('strict', true);
    const entries = state instanceof Map ? new Map(state) : new Map(Object.entries(checkObject(op, 'state', state)));
    const params = new Map(this.namedParameters());
    const missing = [...params.keys()].filter((k) => !entries.has(k));
    const unexpected = [...entries.keys()].filter((k) => !params.has(k));
    if (strict && (missing.length || unexpected.length)) {
      const parts: string[] = [];
      if (missing.length) parts.push(`missing keys: ${missing.join(', ')}`);
      if (unexpected.length) parts.push(`unexpected keys: ${unexpected.join(', ')}`);
      throw new ValueError(op, `state does not match ${this.constructor.name} (${parts.join('; ')})`);
    }
    const pairs: [Tensor, Tensor][] = [];
    for (const [k, p] of params) {
      // A key given with the value undefined is an error, not a missing key: it is there, and strict
      // would not have caught it.
      if (!entries.has(k)) continue;
      const src: unknown = entries.get(k);
      if (!(src instanceof Tensor)) throw new ArgumentTypeError(op, `'${k}' must be a Tensor, got ${describe(src)}`);
      if (src.isDisposed) throw new DisposedError(op, `'${k}' is a disposed tensor`);
      if (src.shape.length !== p.shape.length || src.shape.some((d, i) => d !== p.shape[i]))
        throw new ShapeError(op, `'${k}' has shape ${fmt(src.shape)}, the parameter has ${fmt(p.shape)}`);
      if (src.dtype !== p.dtype) throw new DTypeError(op, `'${k}' is ${src.dtype}, the parameter is ${p.dtype} (astype() it first)`);
      pairs.push([p, src]);
    }
    noGrad(() => {
      for (const [p, src] of pairs) copyInto(p, src);
    });
  }

  /**
   * Runs fn with some parameters replaced by other tensors (by dotted name), then restores them: a
   * functional call, for gradcheck or for computing with weights that are not the module's own.
   */
  withParameters<T>(replacements: StateDict, fn: () => T): T {
    const owners = new Map<string, [Module, string]>();
    for (const [prefix, m] of this.namedModules())
      for (const n of m.#params.keys()) owners.set(prefix ? `${prefix}.${n}` : n, [m, n]);
    const restore: [Module, string, Tensor][] = [];
    try {
      for (const [k, t] of Object.entries(replacements)) {
        const owner = owners.get(k);
        if (!owner) throw new ValueError('withParameters', `no parameter named '${k}'`);
        const [m, n] = owner;
        const old = m.#params.get(n)!;
        if (!(t instanceof Tensor) || t.shape.length !== old.shape.length || t.shape.some((d, i) => d !== old.shape[i]))
          throw new ShapeError('withParameters', `'${k}' must be a tensor of shape ${fmt(old.shape)}`);
        restore.push([m, n, old]);
        m.#params.set(n, t);
      }
      return fn();
    } finally {
      for (const [m, n, old] of restore.reverse()) m.#params.set(n, old);
    }
  }

  /**
   * Moves every parameter to `device`: new leaf tensors replace the old, which are disposed (with their
   * gradients). A tensor shared by two modules stays shared.
   */
  to(device: Device): this {
    checkDevice('Module.to', device);
    const moved = new Map<Tensor, Tensor>();
    for (const [, m] of this.namedModules()) {
      for (const [n, t] of m.#params) {
        if (t.device === device) continue;
        let next = moved.get(t);
        if (!next) {
          next = keep(withoutScope(() => noGrad(() => t.to(device))));
          next.requiresGrad = true;
          moved.set(t, next);
        }
        m.#params.set(n, next);
      }
    }
    for (const old of moved.keys()) {
      old.zeroGrad();
      old.dispose();
    }
    return this;
  }

  /** Frees every parameter and its gradient; the module is unusable afterwards. */
  dispose(): void {
    for (const [, m] of this.namedModules()) {
      for (const t of m.#params.values()) {
        t.zeroGrad();
        t.dispose();
      }
    }
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** An indexed list of child modules, registered as '0', '1', ... */
export class ModuleList<M extends Module = Module> extends Module {
  readonly #items: M[] = [];

  constructor(items: Iterable<M> = []) {
    super();
    if (typeof (items as Partial<Iterable<M>> | null)?.[Symbol.iterator] !== 'function' || typeof items === 'string')
      throw new ArgumentTypeError('ModuleList', `items must be an iterable of modules, got ${describe(items)}`);
    for (const m of items) this.push(m);
  }

  push(m: M): this {
    this.registerModule(String(this.#items.length), m);
    this.#items.push(m);
    return this;
  }

  get length(): number {
    return this.#items.length;
  }

  at(i: number): M {
    const m = this.#items[i < 0 ? i + this.#items.length : i];
    if (!m) throw new ValueError('ModuleList.at', `index ${i} is out of range for ${this.#items.length} modules`);
    return m;
  }

  [Symbol.iterator](): Iterator<M> {
    return this.#items[Symbol.iterator]();
  }
}
