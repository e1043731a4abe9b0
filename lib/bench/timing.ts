/** Timing for benchmarks: warm-up, then the median of repeated runs. Never used by tests. */

export interface Timing {
  /** Median seconds per call. */
  median: number;
  reps: number;
}

/** Runs fn `warmup` times, then at least `minReps` times and for at least `minSeconds`; median. */
export function timeIt(fn: () => void, opts: { warmup?: number; minReps?: number; minSeconds?: number; maxReps?: number } = {}): Timing {
  const { warmup = 2, minReps = 5, minSeconds = 0.3, maxReps = 1000 } = opts;
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minReps || (performance.now() - start < minSeconds * 1000 && times.length < maxReps)) {
    const t0 = performance.now();
    fn();
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  const median = times.length % 2 ? times[mid]! : (times[mid - 1]! + times[mid]!) / 2;
  return { median, reps: times.length };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
