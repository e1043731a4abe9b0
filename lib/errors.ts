/**
 * Error classes. Every message names the op and the offending values; `op` holds the op's name.
 * Native errors arrive with a `kind` that names one of these classes (native/core/error.h).
 */

export class LmforgeError extends Error {
  readonly op: string;
  /** Source location in native/ for errors raised by the native layer. */
  readonly where?: string;
  constructor(op: string, message: string, where?: string) {
    super(message.startsWith(`${op}: `) ? message : `${op}: ${message}`);
    this.name = new.target.name;
    this.op = op;
    if (where !== undefined) this.where = where;
  }
}

/** Shapes that do not fit the op: wrong rank, mismatched sizes, dims out of range. */
export class ShapeError extends LmforgeError {}
/** A dtype the op does not accept, or operands of different dtypes. */
export class DTypeError extends LmforgeError {}
/** A device that is unknown, unavailable, or different between operands. */
export class DeviceError extends LmforgeError {}
/** A tensor used after `dispose()`. */
export class DisposedError extends LmforgeError {}
/** A value out of its domain: an index out of range, a NaN where none is allowed, an unknown option. */
export class ValueError extends LmforgeError {}
/** An allocation that failed or a size no machine holds. */
export class OutOfMemoryError extends LmforgeError {}
/** An argument of the wrong JS type (a string where a tensor is expected). */
export class ArgumentTypeError extends LmforgeError {}
/** Any other failure inside the native layer. */
export class NativeError extends LmforgeError {}

const BY_KIND: Record<string, new (op: string, message: string, where?: string) => LmforgeError> = {
  ShapeError,
  DTypeError,
  DeviceError,
  DisposedError,
  ValueError,
  OutOfMemoryError,
  TypeError: ArgumentTypeError,
  NativeError,
};

/** Turns an error thrown by the addon into the matching class; other errors pass through unchanged. */
export function fromNative(e: unknown): unknown {
  if (!(e instanceof Error) || e instanceof LmforgeError) return e;
  const kind = (e as { kind?: unknown }).kind;
  if (typeof kind !== 'string') return e;
  const Cls = BY_KIND[kind] ?? NativeError;
  const op = (e as { op?: unknown }).op;
  const where = (e as { where?: unknown }).where;
  return new Cls(typeof op === 'string' ? op : 'native', e.message, typeof where === 'string' ? where : undefined);
}

/**
 * Turns a Node file-system error (ENOENT, ENOTDIR, EACCES, ENOSPC, ...) into a ValueError that names the op
 * and the path, e.g. "saveCheckpoint: cannot write 'runs/x': ENOTDIR: not a directory"; other errors pass
 * through unchanged.
 */
export function fromFsError(op: string, verb: string, path: string, e: unknown): unknown {
  const code = (e as { code?: unknown } | null)?.code;
  if (!(e instanceof Error) || e instanceof LmforgeError || typeof code !== 'string' || !/^E[A-Z0-9]+$/.test(code)) return e; // errno codes, not ERR_*
  return new ValueError(op, `cannot ${verb} '${path}': ${e.message.split(',')[0]}`);
}

// ---- argument checks that the lowest modules (memory, grad mode, tensor) need without importing the ops;
// the rest live in lib/ops/util.ts, which re-exports these ----

/** A value as an error message shows it: `null`, `an array`, `Map`, `number 1.5`. */
export function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  if (typeof x === 'object') return (x as object).constructor?.name ?? 'an object';
  return `${typeof x} ${String(x)}`;
}

export function checkFunction(op: string, name: string, f: unknown): asserts f is (...args: never[]) => unknown {
  if (typeof f !== 'function') throw new ArgumentTypeError(op, `${name} must be a function, got ${describe(f)}`);
}
