/** Comparison helpers for the suites: elementwise closeness with explicit tolerances, and error checks. */
import { BASE_SEED } from './prng.js';

export interface Tol {
  /** relative tolerance */
  rtol: number;
  /** absolute tolerance */
  atol: number;
}

export const TOL = {
  float64: { rtol: 1e-12, atol: 1e-14 },
  float32: { rtol: 1e-6, atol: 1e-7 },
  float16: { rtol: 1e-3, atol: 1e-6 },
  bfloat16: { rtol: 1e-2, atol: 1e-6 },
} as const satisfies Record<string, Tol>;

function same(a: number, e: number, tol: Tol): boolean {
  if (Number.isNaN(e)) return Number.isNaN(a);
  if (!Number.isFinite(e)) return a === e;
  if (!Number.isFinite(a)) return false;
  return Math.abs(a - e) <= tol.atol + tol.rtol * Math.abs(e);
}

/** Throws (failing the test) unless every actual[i] is within atol + rtol*|expected[i]|; NaN matches NaN. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tol, what = 'values'): void {
  if (actual.length !== expected.length)
    throw new Error(`${what}: length ${actual.length} != expected ${expected.length} (seed ${BASE_SEED})`);
  const bad: string[] = [];
  let count = 0;
  for (let i = 0; i < expected.length; i++) {
    if (!same(actual[i]!, expected[i]!, tol)) {
      if (count++ < 5) bad.push(`[${i}] got ${actual[i]} expected ${expected[i]}`);
    }
  }
  if (count > 0)
    throw new Error(`${what}: ${count} of ${expected.length} outside rtol ${tol.rtol} atol ${tol.atol} (LMF_TEST_SEED=${BASE_SEED}): ${bad.join('; ')}`);
}

/** Exact equality (NaN matches NaN; +0 and -0 match). */
export function assertEqual(actual: ArrayLike<number>, expected: ArrayLike<number>, what = 'values'): void {
  assertClose(actual, expected, { rtol: 0, atol: 0 }, what);
}

export function assertShape(actual: readonly number[], expected: readonly number[], what = 'shape'): void {
  if (actual.length !== expected.length || actual.some((d, i) => d !== expected[i]))
    throw new Error(`${what}: got [${actual.join(', ')}], expected [${expected.join(', ')}]`);
}

/**
 * Runs f, which must throw an instance of cls whose message matches every pattern (the op's name,
 * the offending value). Returns the error.
 */
export function assertThrows(f: () => unknown, cls: abstract new (...a: never[]) => Error, ...patterns: (RegExp | string)[]): Error {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  if (err === undefined) throw new Error(`expected ${cls.name} matching ${patterns.join(', ')}, but nothing was thrown`);
  if (!(err instanceof cls))
    throw new Error(`expected ${cls.name}, got ${(err as Error)?.constructor?.name}: ${(err as Error)?.message ?? String(err)}`);
  for (const p of patterns) {
    const ok = typeof p === 'string' ? err.message.includes(p) : p.test(err.message);
    if (!ok) throw new Error(`${cls.name} message ${JSON.stringify(err.message)} lacks ${String(p)}`);
  }
  return err;
}
