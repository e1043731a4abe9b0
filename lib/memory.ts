/**
 * Tensor lifetimes: `tidy()` scopes (which follow `await` through AsyncLocalStorage), `keep()`,
 * a FinalizationRegistry that frees what is garbage-collected without `dispose()`, and `memory()`.
 * The native side reports its allocations to V8, so the collector sees the bytes tensors hold.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

import type { Device } from './dtype.js';
import { deviceCode } from './dtype.js';
import { ArgumentTypeError, checkFunction, describe } from './errors.js';
import { native, type NativeHandle } from './native.js';

/** What memory() tracks of a tensor; implemented by Tensor. */
export interface Tracked {
  readonly device: Device;
  dispose(): void;
  readonly isDisposed: boolean;
}

interface Scope {
  tensors: Set<Tracked>;
}

const scopes = new AsyncLocalStorage<Scope>();
const liveTensors: Record<Device, number> = { cpu: 0, cuda: 0 };
const kept = new WeakSet<Tracked>();

interface Held {
  handle: NativeHandle;
  device: Device;
}

const registry = new FinalizationRegistry<Held>((held) => {
  liveTensors[held.device] -= 1;
  held.handle.dispose();
});

/** Called by every new Tensor. */
export function track(t: Tracked, handle: NativeHandle): void {
  liveTensors[t.device] += 1;
  registry.register(t, { handle, device: t.device }, t);
  scopes.getStore()?.tensors.add(t);
}

/** Called by Tensor.dispose() (once). */
export function untrack(t: Tracked): void {
  if (registry.unregister(t)) liveTensors[t.device] -= 1;
}

function isTracked(x: unknown): x is Tracked {
  return typeof x === 'object' && x !== null && 'dispose' in x && 'isDisposed' in x && 'device' in x;
}

function isPromiseLike(x: unknown): x is PromiseLike<unknown> {
  return typeof x === 'object' && x !== null && typeof (x as { then?: unknown }).then === 'function';
}

// Tensors reachable from a tidy result through arrays, Maps, Sets and plain objects.
function collect(x: unknown, out: Set<Tracked>, seen: Set<unknown>): void {
  if (typeof x !== 'object' || x === null || seen.has(x)) return;
  seen.add(x);
  if (isTracked(x)) {
    out.add(x);
    return;
  }
  if (Array.isArray(x) || x instanceof Set) {
    for (const v of x) collect(v, out, seen);
  } else if (x instanceof Map) {
    for (const v of x.values()) collect(v, out, seen);
  } else if (Object.getPrototypeOf(x) === Object.prototype) {
    for (const v of Object.values(x)) collect(v, out, seen);
  }
}

function finish(scope: Scope, parent: Scope | undefined, result: unknown): void {
  const survivors = new Set<Tracked>();
  collect(result, survivors, new Set());
  for (const t of scope.tensors) {
    if (kept.has(t)) continue;
    if (survivors.has(t)) parent?.tensors.add(t);
    else t.dispose();
  }
  scope.tensors.clear();
}

/**
 * Runs fn and disposes every tensor created inside it, except those it returns (found in arrays, Maps,
 * Sets and plain objects) and those passed to keep(). Works with async functions: the scope follows
 * the function across `await`, and tensors are disposed when its promise settles.
 */
export function tidy<T>(fn: () => T): T {
  checkFunction('tidy', 'fn', fn);
  const parent = scopes.getStore();
  const scope: Scope = { tensors: new Set() };
  let result: T;
  try {
    result = scopes.run(scope, fn);
  } catch (e) {
    finish(scope, parent, undefined);
    throw e;
  }
  if (isPromiseLike(result)) {
    return Promise.resolve(result).then(
      (v) => {
        finish(scope, parent, v);
        return v;
      },
      (e: unknown) => {
        finish(scope, parent, undefined);
        throw e;
      },
    ) as T;
  }
  finish(scope, parent, result);
  return result;
}

/** Runs fn outside every tidy() scope: what it creates is freed only by dispose() or the collector. */
export function withoutScope<T>(fn: () => T): T {
  return scopes.exit(fn);
}

/** Exempts a tensor from every enclosing tidy() scope; it lives until disposed or collected. */
export function keep<T extends Tracked>(t: T): T {
  if (!isTracked(t)) throw new ArgumentTypeError('keep', `t must be a Tensor, got ${describe(t)}`);
  kept.add(t);
  return t;
}

export interface MemoryInfo {
  /** Tensor objects alive (not disposed, not yet collected). */
  tensors: number;
  /** Native storage buffers alive; views share one. */
  buffers: number;
  /** Bytes those buffers hold. */
  bytes: number;
  /** Most bytes held at once since start or resetPeakMemory(). */
  peakBytes: number;
  /** Released blocks of 1 MiB or more that the allocator keeps for reuse (not counted in bytes). */
  cachedBytes: number;
}

/** Live tensors and bytes on a device. */
export function memory(device: Device = 'cpu'): MemoryInfo {
  const s = native.memoryStats(deviceCode(device));
  return { tensors: liveTensors[device], buffers: s.buffers, bytes: s.bytes, peakBytes: s.peakBytes, cachedBytes: s.cachedBytes };
}

/**
 * Returns the allocator's cached blocks to the system. Large blocks (1 MiB or more) are kept after
 * release because fresh pages are slow to fault in; the cache holds at most a quarter of physical memory
 * (at least 1 GiB) unless setCacheLimit() says otherwise.
 */
export function emptyCache(device: Device = 'cpu'): void {
  native.emptyCache(deviceCode(device));
}

/** Caps the bytes the allocator keeps for reuse (0 disables the cache). */
export function setCacheLimit(bytes: number, device: Device = 'cpu'): void {
  native.setCacheLimit(deviceCode(device), bytes);
}

export function resetPeakMemory(device: Device = 'cpu'): void {
  native.resetPeakMemory(deviceCode(device));
}
