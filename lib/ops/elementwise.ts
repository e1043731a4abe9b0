/** Elementwise math with NumPy broadcasting; a number operand acts as a scalar of the tensor's dtype. */
import type { DType } from '../dtype.js';
import { ArgumentTypeError } from '../errors.js';
import { native } from '../native.js';
import { Tensor } from '../tensor.js';
import { checkTensor, describe, wrap } from './util.js';

type BinaryName = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum';
type UnaryName = 'neg' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'abs' | 'tanh' | 'sigmoid' | 'relu' | 'sin' | 'cos' | 'square' | 'reciprocal';

function binary<D extends DType>(op: BinaryName, a: Tensor<D> | number, b: Tensor<D> | number): Tensor<D> {
  if (a instanceof Tensor && b instanceof Tensor) return wrap(native.binary(op, a.handle, b.handle));
  if (a instanceof Tensor && typeof b === 'number') return wrap(native.binaryScalar(op, a.handle, b, false));
  if (typeof a === 'number' && b instanceof Tensor) return wrap(native.binaryScalar(op, b.handle, a, true));
  throw new ArgumentTypeError(op, `operands must be tensors or numbers (at least one a tensor), got ${describe(a)} and ${describe(b)}`);
}

function unary<D extends DType>(op: UnaryName, t: Tensor<D>): Tensor<D> {
  checkTensor(op, 'input', t);
  return wrap(native.unary(op, t.handle));
}

export const add = <D extends DType>(a: Tensor<D> | number, b: Tensor<D> | number): Tensor<D> => binary('add', a, b);
export const sub = <D extends DType>(a: Tensor<D> | number, b: Tensor<D> | number): Tensor<D> => binary('sub', a, b);
export const mul = <D extends DType>(a: Tensor<D> | number, b: Tensor<D> | number): Tensor<D> => binary('mul', a, b);
export const div = <D extends DType>(a: Tensor<D> | number, b: Tensor<D> | number): Tensor<D> => binary('div', a, b);
export const pow = <D extends DType>(a: Tensor<D> | number, b: Tensor<D> | number): Tensor<D> => binary('pow', a, b);
/** Elementwise maximum; NaN in either operand gives NaN. */
export const maximum = <D extends DType>(a: Tensor<D> | number, b: Tensor<D> | number): Tensor<D> => binary('maximum', a, b);
/** Elementwise minimum; NaN in either operand gives NaN. */
export const minimum = <D extends DType>(a: Tensor<D> | number, b: Tensor<D> | number): Tensor<D> => binary('minimum', a, b);

export const neg = <D extends DType>(t: Tensor<D>): Tensor<D> => unary('neg', t);
export const exp = <D extends DType>(t: Tensor<D>): Tensor<D> => unary('exp', t);
export const log = <D extends DType>(t: Tensor<D>): Tensor<D> => unary('log', t);
export const sqrt = <D extends DType>(t: Tensor<D>): Tensor<D> => unary('sqrt', t);
export const rsqrt = <D extends DType>(t: Tensor<D>): Tensor<D> => unary('rsqrt', t);
export const abs = <D extends DType>(t: Tensor<D>): Tensor<D> => unary('abs', t);
export const tanh = <D extends DType>(t: Tensor<D>): Tensor<D> => unary('tanh', t);
export const sigmoid = <D extends DType>(t: Tensor<D>): Tensor<D> => unary('sigmoid', t);
export const relu = <D extends DType>(t: Tensor<D>): Tensor<D> => unary('relu', t);
export const sin = <D extends DType>(t: Tensor<D>): Tensor<D> => unary('sin', t);
export const cos = <D extends DType>(t: Tensor<D>): Tensor<D> => unary('cos', t);
export const square = <D extends DType>(t: Tensor<D>): Tensor<D> => unary('square', t);
export const reciprocal = <D extends DType>(t: Tensor<D>): Tensor<D> => unary('reciprocal', t);
