/** Inverted dropout, composed from rand() and mul() (no kernel of its own). */
import type { DType, FloatDType } from '../dtype.js';
import { isFloatDType } from '../dtype.js';
import { DTypeError, ValueError } from '../errors.js';
import { tidy } from '../memory.js';
import type { Tensor } from '../tensor.js';
import { rand } from './creation.js';
import { checkNumber, liveTensor } from './util.js';


/**
 * Inverted dropout: zeroes each element with probability p and scales the rest by 1/(1 - p), so that
 * evaluation needs no rescaling. The mask comes from rand() with `seed` (the global stream when omitted),
 * so a seeded call is reproducible. p = 0 returns x itself.
 */
export function dropout<D extends DType>(x: Tensor<D>, p: number, seed?: number): Tensor<D> {
  const op = 'dropout';
  liveTensor(op, 'x', x);
  // Composed from rand() and mul(), which take any dtype: the mask needs a float one.
  if (!isFloatDType(x.dtype)) throw new DTypeError(op, `x must be a floating-point tensor, got ${x.dtype}`);
  checkNumber(op, 'p', p);
  if (!(p >= 0 && p < 1)) throw new ValueError(op, `p must be in [0, 1), got ${p}`);
  if (p === 0) return x;
  return tidy(() => {
    const keepMask = rand(x.shape, { dtype: x.dtype as FloatDType, device: x.device, ...(seed === undefined ? {} : { seed }) });
    return x.mul(keepMask.ge(p).mul(1 / (1 - p)) as unknown as Tensor<D>);
  });
}
