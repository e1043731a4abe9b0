/** Seeded choices and shared options of the task builders: the same seed gives the same tasks on any machine. */
import { hashUniform } from '../data/dataset.js';
import { ArgumentTypeError } from '../errors.js';
import { checkInt, describe } from '../ops/util.js';

/** A counter-based stream of uniforms in [0, 1) (hashUniform), so a draw depends on (seed, n) alone. */
export class Draws {
  #n = 0;
  constructor(readonly seed: number) {}
  uniform(): number {
    return hashUniform(this.seed, this.#n++);
  }
  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.uniform() * n);
  }
  /** `k` items of `xs` in a seeded order (a partial Fisher-Yates shuffle of a copy). */
  pick<T>(xs: readonly T[], k: number): T[] {
    const a = xs.slice();
    const m = Math.min(k, a.length);
    for (let i = 0; i < m; i++) {
      const j = i + this.below(a.length - i);
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a.slice(0, m);
  }
}

/** Default number of examples a built-in task keeps. */
export const DEFAULT_EXAMPLES = 500;

/** The seed and example count every builder takes, checked. */
export function builderOptions(op: string, opts: { seed?: unknown; examples?: unknown }): { seed: number; examples: number } {
  return {
    seed: checkInt(op, 'seed', opts.seed ?? 0, 0, 2 ** 53 - 1),
    examples: checkInt(op, 'examples', opts.examples ?? DEFAULT_EXAMPLES, 1, 1e7),
  };
}

/** Lines not to make examples of (builtinTasks passes the training documents' lines), checked. */
export function avoidSet(op: string, avoid: unknown): ReadonlySet<string> {
  if (avoid === undefined) return new Set();
  if (!(avoid instanceof Set)) throw new ArgumentTypeError(op, `avoid must be a Set of strings, got ${describe(avoid)}`);
  return avoid as ReadonlySet<string>;
}

/**
 * The lines before line `i` of `lines`, most recent last, as many whole lines as fit in `chars`
 * characters: the passage an example is read in.
 */
export function passageBefore(lines: readonly string[], i: number, chars: number): string[] {
  const out: string[] = [];
  let used = 0;
  for (let j = i - 1; j >= 0; j--) {
    used += lines[j]!.length + 1;
    if (used > chars) break;
    out.push(lines[j]!);
  }
  return out.reverse();
}
