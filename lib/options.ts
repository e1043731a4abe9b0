/**
 * "Did you mean": the closest known name to a mistyped one, for the errors that refuse an unknown option,
 * key or command (the library's option checks and the lmforge command's parser both use it). No imports,
 * so that the command-line parser can use it without loading the native addon.
 */

/** Edit distance (insertions, deletions, substitutions and swaps of neighbours), for suggestions. */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  return d[a.length]![b.length]!;
}

/**
 * The candidate closest to `word` (ignoring case), if it is close enough to be a likely typo: at most one
 * edit per three letters, so that a short word is not "corrected" into an unrelated one.
 */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) (best = c), (bestD = d);
  }
  return best !== undefined && bestD <= Math.floor(Math.max(word.length, best.length) / 3) ? best : undefined;
}

/** ", did you mean X?" or the fallback, in parentheses: the tail of an "unknown ..." message. */
export function hint(word: string, candidates: readonly string[], fallback: string, show = (c: string): string => c): string {
  const s = suggest(word, candidates);
  return s === undefined ? ` (${fallback})` : ` (did you mean ${show(s)}?)`;
}
