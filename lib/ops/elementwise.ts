/**
 * Elementwise math with NumPy broadcasting; a number operand acts as a scalar of the tensor's dtype.
 * Each op's backward rule sits beside its forward. Comparisons give 1/0 in the operands' dtype and
 * carry no gradient.
 */
import { attach, needsGrad, save } from '../autograd/record.js';
import type { DType } from '../dtype.js';
import { deviceCode, dtypeCode } from '../dtype.js';
import { ArgumentTypeError } from '../errors.js';
import { native } from '../native.js';
import { Tensor } from '../tensor.js';
import { sumToShape } from './broadcast.js';
import { checkTensor, describe, wrap } from './util.js';

type BinaryName = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum';
type CompareName = 'gt' | 'ge' | 'lt' | 'le' | 'eq' | 'ne';
type UnaryName =
  | 'neg' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'abs' | 'tanh' | 'sigmoid' | 'relu' | 'sin' | 'cos' | 'square' | 'reciprocal' | 'erf' | 'sign';
type Operand<D extends DType> = Tensor<D> | number;

function forward<D extends DType>(op: BinaryName | CompareName, a: Operand<D>, b: Operand<D>): Tensor<D> {
  if (a instanceof Tensor && b instanceof Tensor) return wrap(native.binary(op, a.handle, b.handle));
  if (a instanceof Tensor && typeof b === 'number') return wrap(native.binaryScalar(op, a.handle, b, false));
  if (typeof a === 'number' && b instanceof Tensor) return wrap(native.binaryScalar(op, b.handle, a, true));
  throw new ArgumentTypeError(op, `operands must be tensors or numbers (at least one a tensor), got ${describe(a)} and ${describe(b)}`);
}

const shapeOf = (x: Operand<DType>): readonly number[] => (x instanceof Tensor ? x.shape : []);
// The gradient of a tensor operand, summed to its shape; none for a number operand.
const toOperand = (g: Tensor, x: Operand<DType>): Tensor | null => (x instanceof Tensor ? sumToShape(g, shapeOf(x)) : null);

// Partial derivatives of each binary op as tensors (or numbers) broadcast against the output; y is the output.
function binaryRule(op: BinaryName, a: Operand<DType>, b: Operand<DType>, y: Tensor, g: Tensor): [Tensor | null, Tensor | null] {
  switch (op) {
    case 'add':
      return [toOperand(g, a), toOperand(g, b)];
    case 'sub':
      return [toOperand(g, a), b instanceof Tensor ? toOperand(neg(g), b) : null];
    case 'mul':
      return [a instanceof Tensor ? toOperand(mul(g, b), a) : null, b instanceof Tensor ? toOperand(mul(g, a), b) : null];
    case 'div':
      // d(a/b)/da = 1/b; d(a/b)/db = -a/b² = -y/b
      return [a instanceof Tensor ? toOperand(div(g, b), a) : null, b instanceof Tensor ? toOperand(neg(mul(g, div(y, b))), b) : null];
    case 'pow':
      // d(a^b)/da = b·a^(b-1); d(a^b)/db = a^b·ln a
      return [
        a instanceof Tensor ? toOperand(mul(g, mul(b, pow(a, typeof b === 'number' ? b - 1 : sub(b, 1)))), a) : null,
        b instanceof Tensor ? toOperand(mul(g, mul(y, typeof a === 'number' ? Math.log(a) : log(a))), b) : null,
      ];
    case 'maximum':
    case 'minimum': {
      // The larger (smaller) operand takes the gradient; ties split it evenly, as in PyTorch.
      const winA = op === 'maximum' ? gt(a, b) : lt(a, b);
      const tie = mul(eq(a, b), 0.5);
      const shareA = add(winA, tie);
      return [
        a instanceof Tensor ? toOperand(mul(g, shareA), a) : null,
        b instanceof Tensor ? toOperand(mul(g, sub(1, shareA)), b) : null,
      ];
    }
  }
}

function binary<D extends DType>(op: BinaryName, a: Operand<D>, b: Operand<D>): Tensor<D> {
  const y = forward(op, a, b);
  if (!needsGrad(a, b)) return y;
  // Save only what the rule reads: operands for most ops, the output for div and pow.
  const sa = a instanceof Tensor ? save(a) : a;
  const sb = b instanceof Tensor ? save(b) : b;
  const sy = op === 'div' || op === 'pow' ? save(y) : y;
  const saved = ([sa, sb, sy] as unknown[]).filter((x, i): x is Tensor => x instanceof Tensor && (i < 2 || x !== y));
  return attach(op, y, [a, b], (g) => binaryRule(op, sa, sb, sy, g), saved);
}

function compare<D extends DType>(op: CompareName, a: Operand<D>, b: Operand<D>): Tensor<D> {
  return forward(op, a, b);
}

function unaryRule(op: UnaryName, x: Tensor, y: Tensor, g: Tensor): Tensor | null {
  switch (op) {
    case 'neg': return neg(g);
    case 'exp': return mul(g, y);
    case 'log': return div(g, x);
    case 'sqrt': return div(mul(g, 0.5), y);
    case 'rsqrt': return mul(g, mul(pow(y, 3), -0.5));
    case 'abs': return mul(g, sign(x));
    case 'tanh': return mul(g, sub(1, square(y)));
    case 'sigmoid': return mul(g, mul(y, sub(1, y)));
    case 'relu': return mul(g, gt(x, 0));
    case 'sin': return mul(g, cos(x));
    case 'cos': return neg(mul(g, sin(x)));
    case 'square': return mul(g, mul(x, 2));
    case 'reciprocal': return neg(mul(g, square(y)));
    case 'erf': return mul(g, mul(exp(neg(square(x))), 2 / Math.sqrt(Math.PI)));
    case 'sign': return null; // zero almost everywhere
  }
}

// Rules that read the output rather than the input.
const USES_OUTPUT = new Set<UnaryName>(['exp', 'sqrt', 'rsqrt', 'tanh', 'sigmoid', 'reciprocal']);

function unary<D extends DType>(op: UnaryName, t: Tensor<D>): Tensor<D> {
  checkTensor(op, 'input', t);
  const y = wrap<D>(native.unary(op, t.handle));
  if (!needsGrad(t) || op === 'sign') return y;
  const saved = USES_OUTPUT.has(op) ? save(y) : save(t);
  const x = USES_OUTPUT.has(op) ? t : saved;
  const out = USES_OUTPUT.has(op) ? saved : y;
  return attach(op, y, [t], (g) => [unaryRule(op, x, out, g)], [saved]);
}

export const add = <D extends DType>(a: Operand<D>, b: Operand<D>): Tensor<D> => binary('add', a, b);
export const sub = <D extends DType>(a: Operand<D>, b: Operand<D>): Tensor<D> => binary('sub', a, b);
export const mul = <D extends DType>(a: Operand<D>, b: Operand<D>): Tensor<D> => binary('mul', a, b);
export const div = <D extends DType>(a: Operand<D>, b: Operand<D>): Tensor<D> => binary('div', a, b);
export const pow = <D extends DType>(a: Operand<D>, b: Operand<D>): Tensor<D> => binary('pow', a, b);
/** Elementwise maximum; NaN in either operand gives NaN. */
export const maximum = <D extends DType>(a: Operand<D>, b: Operand<D>): Tensor<D> => binary('maximum', a, b);
/** Elementwise minimum; NaN in either operand gives NaN. */
export const minimum = <D extends DType>(a: Operand<D>, b: Operand<D>): Tensor<D> => binary('minimum', a, b);

/** a > b as 1/0 in the operands' dtype (no gradient). */
export const gt = <D extends DType>(a: Operand<D>, b: Operand<D>): Tensor<D> => compare('gt', a, b);
export const ge = <D extends DType>(a: Operand<D>, b: Operand<D>): Tensor<D> => compare('ge', a, b);
export const lt = <D extends DType>(a: Operand<D>, b: Operand<D>): Tensor<D> => compare('lt', a, b);
export const le = <D extends DType>(a: Operand<D>, b: Operand<D>): Tensor<D> => compare('le', a, b);
export const eq = <D extends DType>(a: Operand<D>, b: Operand<D>): Tensor<D> => compare('eq', a, b);
export const ne = <D extends DType>(a: Operand<D>, b: Operand<D>): Tensor<D> => compare('ne', a, b);

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
export const erf = <D extends DType>(t: Tensor<D>): Tensor<D> => unary('erf', t);
/** -1, 0 or 1 (NaN stays NaN); no gradient. */
export const sign = <D extends DType>(t: Tensor<D>): Tensor<D> => unary('sign', t);

/** cond ? a : b elementwise with broadcasting; cond of any dtype (nonzero is true). Differentiable in a and b. */
export function where<D extends DType>(cond: Tensor, a: Tensor<D>, b: Tensor<D>): Tensor<D> {
  checkTensor('where', 'cond', cond);
  checkTensor('where', 'a', a);
  checkTensor('where', 'b', b);
  const y = wrap<D>(native.where(cond.handle, a.handle, b.handle));
  if (!needsGrad(a, b)) return y;
  const c = save(cond);
  return attach('where', y, [a, b], (g) => {
    const zero = wrap(native.full([], dtypeCode(g.dtype), 0, deviceCode(g.device)));
    return [sumToShape(where(c, g, zero), a.shape), sumToShape(where(c, zero, g), b.shape)];
  }, [c]);
}

