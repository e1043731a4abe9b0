/** Inverted dropout, composed from rand() and mul() (no kernel of its own). */
import type { DType, FloatDType } from '../dtype.js';
import { isFloatDType } from '../dtype.js';
import { DTypeError, ShapeError, ValueError } from '../errors.js';
import { tidy } from '../memory.js';
import type { Tensor } from '../tensor.js';
import { rand } from './creation.js';
import { checkInt, checkNumber, liveTensor } from './util.js';


/**
 * Inverted dropout: zeroes each element with probability p and scales the rest by 1/(1 - p), so that
 * evaluation needs no rescaling. The mask comes from rand() with `seed` (the global stream when omitted),
 * so a seeded call is reproducible. p = 0 returns x itself.
 *
 * `shard` (data parallel): x holds rows [rank·n, (rank+1)·n) of a global batch of n·worldSize along its
 * first dimension; the mask is drawn for the global batch and this rank's rows kept, so that the ranks
 * together apply the mask one process would.
 */
export function dropout<D extends DType>(x: Tensor<D>, p: number, seed?: number, shard?: { rank: number; worldSize: number }): Tensor<D> {
  const op = 'dropout';
  liveTensor(op, 'x', x);
  // Composed from rand() and mul(), which take any dtype: the mask needs a float one.
  if (!isFloatDType(x.dtype)) throw new DTypeError(op, `x must be a floating-point tensor, got ${x.dtype}`);
  checkNumber(op, 'p', p);
  if (!(p >= 0 && p < 1)) throw new ValueError(op, `p must be in [0, 1), got ${p}`);
  if (p === 0) return x;
  if (shard !== undefined) {
    checkInt(op, 'shard.worldSize', shard.worldSize, 1);
    checkInt(op, 'shard.rank', shard.rank, 0, shard.worldSize - 1);
    if (x.ndim === 0) throw new ShapeError(op, 'a sharded dropout needs x with a leading batch dimension, got a scalar');
  }
  return tidy(() => {
    const n = x.shape[0]!;
    const shape = shard === undefined || shard.worldSize === 1 ? x.shape : [n * shard.worldSize, ...x.shape.slice(1)];
    let keepMask = rand(shape, { dtype: x.dtype as FloatDType, device: x.device, ...(seed === undefined ? {} : { seed }) });
    if (shape !== x.shape) keepMask = keepMask.slice(0, shard!.rank * n, (shard!.rank + 1) * n);
    return x.mul(keepMask.ge(p).mul(1 / (1 - p)) as unknown as Tensor<D>);
  });
}
