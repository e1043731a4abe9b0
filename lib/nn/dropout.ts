/** Dropout as a module: active in training mode only. */
import { ValueError } from '../errors.js';
import { dropout } from '../ops/dropout.js';
import type { Tensor } from '../tensor.js';
import { seedFor } from './init.js';
import { Module } from './module.js';
import { checkInt, showValue } from '../ops/util.js';
import { OptionReader } from './option_reader.js';

export interface DropoutOptions {
  /**
   * With a seed, call n draws its mask from seedFor(seed, n), so a run is reproducible whatever else
   * draws random numbers; without one, masks come from the global stream (manualSeed).
   */
  seed?: number;
}

export class Dropout extends Module {
  readonly p: number;
  readonly seed: number | undefined;
  #calls = 0;
  #shard: { rank: number; worldSize: number } | undefined;

  constructor(p: number, opts: DropoutOptions = {}) {
    super();
    const o = new OptionReader('Dropout', opts, ['seed']);
    if (typeof p !== 'number' || !(p >= 0 && p < 1)) throw new ValueError('Dropout', `p must be in [0, 1), got ${showValue(p)}`);
    this.p = p;
    this.seed = o.seed();
  }

  /**
   * Masks drawn so far. With a seed, mask n depends on (seed, n) alone, so a checkpoint saves this count
   * and a resumed run draws the same masks as an uninterrupted one.
   */
  get calls(): number {
    return this.#calls;
  }

  set calls(n: number) {
    if (!Number.isInteger(n) || n < 0) throw new ValueError('Dropout.calls', `must be a non-negative integer, got ${n}`);
    this.#calls = n;
  }

  /**
   * Data parallel: this process trains on rows [rank·n, (rank+1)·n) of each global batch (its first
   * dimension). forward() then draws the mask for the whole global batch and keeps those rows, so the ranks
   * apply the masks one process would. (1 rank: the default, unsharded.)
   */
  setShard(rank: number, worldSize: number): void {
    checkInt('Dropout.setShard', 'worldSize', worldSize, 1);
    checkInt('Dropout.setShard', 'rank', rank, 0, worldSize - 1);
    this.#shard = worldSize === 1 ? undefined : { rank, worldSize };
  }

  /** True when forward() changes its input: training mode and p > 0. */
  get active(): boolean {
    return this.training && this.p > 0;
  }

  forward(x: Tensor): Tensor {
    if (!this.active) return x;
    return dropout(x, this.p, this.seed === undefined ? undefined : seedFor(this.seed, String(this.#calls++)), this.#shard);
  }
}
