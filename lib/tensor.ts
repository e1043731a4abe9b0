/**
 * Tensor<D>: a typed view of a native tensor. The dtype is part of the type, so
 * `Tensor<'float32'>.dataSync()` is a Float32Array with no cast. Views share storage with their base.
 * Methods delegate to the functional ops in lib/ops/, where each op's rules live.
 */
import type { DataTypeMap, Device, DType } from './dtype.js';
import { deviceFromCode, dtypeFromCode, isFloatDType } from './dtype.js';
import { runBackward } from './autograd/backward.js';
import { type GradNode, unrefNode } from './autograd/node.js';
import { ArgumentTypeError, describe, DisposedError, DTypeError, ShapeError, ValueError } from './errors.js';
import { track, untrack } from './memory.js';
import { handleCall, native, type NativeHandle } from './native.js';
import * as ew from './ops/elementwise.js';
import * as mm from './ops/matmul.js';
import * as red from './ops/reduce.js';
import * as sm from './ops/softmax_xent.js';
import * as vw from './ops/views.js';
import { formatTensor } from './format.js';
import { decodeHalf } from './half.js';

export type Scalar = number;

function nativeAlias(h: NativeHandle, shape: readonly number[]): NativeHandle {
  return native.reshape(h, shape as number[]);
}

export class Tensor<D extends DType = DType> {
  readonly shape: readonly number[];
  readonly dtype: D;
  readonly device: Device;
  #handle: NativeHandle;
  #disposed = false;
  #requiresGrad = false;
  #gradNode: GradNode | null = null;
  /** The accumulated gradient of a leaf after backward(); null until then. */
  grad: Tensor<D> | null = null;

  /** @internal Tensors come from lmforge's functions (zeros, tensor, ...), not from this constructor. */
  constructor(handle: NativeHandle) {
    this.#handle = handle;
    this.shape = Object.freeze(handle.shape());
    this.dtype = dtypeFromCode(handle.dtype()) as D;
    this.device = deviceFromCode(handle.device());
    track(this, handle);
  }

  /** @internal The native handle; a disposed tensor's handle makes every native op throw DisposedError. */
  get handle(): NativeHandle {
    return this.#handle;
  }

  get ndim(): number {
    return this.shape.length;
  }

  /** Number of elements. */
  get size(): number {
    let n = 1;
    for (const d of this.shape) n *= d;
    return n;
  }

  /** Strides in elements (views may be non-contiguous). */
  get strides(): number[] {
    return handleCall(() => this.live('strides').strides());
  }

  get isDisposed(): boolean {
    return this.#disposed;
  }

  /** True when both tensors are views of one storage buffer. */
  sharesStorageWith(other: Tensor): boolean {
    if (!(other instanceof Tensor)) throw new ArgumentTypeError('sharesStorageWith', `other must be a Tensor, got ${describe(other)}`);
    return handleCall(() => this.live('sharesStorageWith').sameStorage(other.live('sharesStorageWith')));
  }

  private live(op: string): NativeHandle {
    if (this.#disposed) throw new DisposedError(op, 'the tensor has been disposed');
    return this.#handle;
  }

  // ---- autograd ----

  /**
   * Whether gradients flow to this tensor. Settable on leaves (tensors no recorded op produced), for
   * floating-point dtypes; results of recorded ops require a gradient when any input did.
   */
  get requiresGrad(): boolean {
    return this.#requiresGrad;
  }

  set requiresGrad(flag: boolean) {
    this.live('requiresGrad');
    if (this.#gradNode) throw new ValueError('requiresGrad', 'can only be set on a leaf tensor (use detach() to get one)');
    if (flag && !isFloatDType(this.dtype)) throw new DTypeError('requiresGrad', `only floating-point tensors can require a gradient, got ${this.dtype}`);
    this.#requiresGrad = Boolean(flag);
  }

  /** Sets requiresGrad and returns this, for chaining: `randn([3]).setRequiresGrad()`. */
  setRequiresGrad(flag = true): this {
    this.requiresGrad = flag;
    return this;
  }

  /** @internal The tape entry that produced this tensor. */
  get gradNode(): GradNode | null {
    return this.#gradNode;
  }

  /** @internal Called once by autograd/record.ts when a recorded op produced this tensor. */
  setGradNode(node: GradNode): void {
    this.#gradNode = node;
    this.#requiresGrad = true;
  }

  /** True for tensors no recorded op produced (parameters, inputs). */
  get isLeaf(): boolean {
    return this.#gradNode === null;
  }

  /**
   * Backpropagates from this tensor: every leaf that requires a gradient accumulates d(this)/d(leaf)
   * (times `grad`, which defaults to 1 for a one-element tensor) into its `.grad`. The graph is freed
   * as it goes, so each forward pass supports one backward.
   */
  backward(grad?: Tensor<D>): void {
    this.live('backward');
    runBackward(this, grad);
  }

  /** A view of the same storage that is cut from the graph (a leaf that requires no gradient). */
  detach(): Tensor<D> {
    return new Tensor<D>(handleCall(() => nativeAlias(this.live('detach'), this.shape)));
  }

  /** Drops the accumulated gradient (disposing it). */
  zeroGrad(): void {
    this.grad?.dispose();
    this.grad = null;
  }

  // ---- reading ----

  /** The elements in row-major order (bfloat16 and float16 widened to float32). */
  dataSync(): DataTypeMap[D] {
    const buf = handleCall(() => this.live('data').read());
    switch (this.dtype) {
      case 'float32': return new Float32Array(buf) as DataTypeMap[D];
      case 'bfloat16': return decodeHalf(new Uint16Array(buf), 'bfloat16') as DataTypeMap[D];
      case 'float16': return decodeHalf(new Uint16Array(buf), 'float16') as DataTypeMap[D];
      case 'int32': return new Int32Array(buf) as DataTypeMap[D];
      case 'uint8': return new Uint8Array(buf) as DataTypeMap[D];
      case 'int8': return new Int8Array(buf) as DataTypeMap[D];
      case 'float64': return new Float64Array(buf) as DataTypeMap[D];
    }
    throw new Error(`unreachable dtype ${String(this.dtype)}`);
  }

  /** Like dataSync(); on a GPU tensor the copy waits for the device. */
  async data(): Promise<DataTypeMap[D]> {
    return this.dataSync();
  }

  /** The single element of a tensor with one element. */
  item(): number {
    if (this.size !== 1) throw new ShapeError('item', `needs a tensor with exactly one element, got shape [${this.shape.join(', ')}]`);
    return this.dataSync()[0]!;
  }

  /** Nested arrays of numbers in the tensor's shape. */
  toArray(): unknown {
    const flat = this.dataSync();
    const build = (dim: number, off: number): unknown => {
      if (dim === this.shape.length) return flat[off];
      const n = this.shape[dim]!;
      let stride = 1;
      for (let i = dim + 1; i < this.shape.length; i++) stride *= this.shape[i]!;
      return Array.from({ length: n }, (_, i) => build(dim + 1, off + i * stride));
    };
    return build(0, 0);
  }

  toString(): string {
    if (this.#disposed) return `Tensor(${this.dtype}, [${this.shape.join(', ')}], ${this.device}, disposed)`;
    return formatTensor(this.shape, this.dtype, this.device, this.dataSync());
  }

  // ---- memory ----

  /**
   * Frees the tensor's view now, and its gradient; the storage goes when no other view uses it.
   * Idempotent. (A tensor that is only dropped is freed after a garbage collection, by a callback that
   * runs only when the event loop turns: a synchronous loop should free with dispose() or tidy().)
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    untrack(this);
    this.#handle.dispose();
    if (this.#gradNode) unrefNode(this.#gradNode);
    // The gradient belongs to the tensor (nothing else would ever free it before the collector does).
    this.zeroGrad();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  // ---- views and conversions ----

  reshape(...shape: number[] | [readonly number[]]): Tensor<D> {
    return vw.reshape(this, shape.flat() as number[]);
  }
  view(...shape: number[] | [readonly number[]]): Tensor<D> {
    return vw.reshape(this, shape.flat() as number[]);
  }
  flatten(): Tensor<D> {
    return vw.reshape(this, [-1]);
  }
  transpose(dim0 = -2, dim1 = -1): Tensor<D> {
    return vw.transpose(this, dim0, dim1);
  }
  /** The transpose of the last two dimensions. */
  get T(): Tensor<D> {
    return vw.transpose(this, -2, -1);
  }
  permute(...dims: number[] | [readonly number[]]): Tensor<D> {
    return vw.permute(this, dims.flat() as number[]);
  }
  slice(dim: number, start: number, end?: number, step = 1): Tensor<D> {
    return vw.slice(this, dim, start, end, step);
  }
  expand(...shape: number[] | [readonly number[]]): Tensor<D> {
    return vw.expand(this, shape.flat() as number[]);
  }
  squeeze(dim?: number): Tensor<D> {
    return vw.squeeze(this, dim);
  }
  unsqueeze(dim: number): Tensor<D> {
    return vw.unsqueeze(this, dim);
  }
  contiguous(): Tensor<D> {
    return vw.contiguous(this);
  }
  isContiguous(): boolean {
    return vw.isContiguous(this);
  }
  astype<E extends DType>(dtype: E): Tensor<E> {
    return vw.astype(this, dtype);
  }
  to(device: Device): Tensor<D> {
    return vw.to(this, device);
  }
  /** A copy with its own storage. */
  clone(): Tensor<D> {
    return vw.clone(this);
  }

  // ---- elementwise ----

  add(other: Tensor<D> | Scalar): Tensor<D> { return ew.add(this, other); }
  sub(other: Tensor<D> | Scalar): Tensor<D> { return ew.sub(this, other); }
  mul(other: Tensor<D> | Scalar): Tensor<D> { return ew.mul(this, other); }
  div(other: Tensor<D> | Scalar): Tensor<D> { return ew.div(this, other); }
  pow(other: Tensor<D> | Scalar): Tensor<D> { return ew.pow(this, other); }
  maximum(other: Tensor<D> | Scalar): Tensor<D> { return ew.maximum(this, other); }
  minimum(other: Tensor<D> | Scalar): Tensor<D> { return ew.minimum(this, other); }
  neg(): Tensor<D> { return ew.neg(this); }
  exp(): Tensor<D> { return ew.exp(this); }
  log(): Tensor<D> { return ew.log(this); }
  sqrt(): Tensor<D> { return ew.sqrt(this); }
  rsqrt(): Tensor<D> { return ew.rsqrt(this); }
  abs(): Tensor<D> { return ew.abs(this); }
  tanh(): Tensor<D> { return ew.tanh(this); }
  sigmoid(): Tensor<D> { return ew.sigmoid(this); }
  relu(): Tensor<D> { return ew.relu(this); }
  sin(): Tensor<D> { return ew.sin(this); }
  cos(): Tensor<D> { return ew.cos(this); }
  square(): Tensor<D> { return ew.square(this); }
  reciprocal(): Tensor<D> { return ew.reciprocal(this); }
  erf(): Tensor<D> { return ew.erf(this); }
  sign(): Tensor<D> { return ew.sign(this); }
  gt(other: Tensor<D> | Scalar): Tensor<D> { return ew.gt(this, other); }
  ge(other: Tensor<D> | Scalar): Tensor<D> { return ew.ge(this, other); }
  lt(other: Tensor<D> | Scalar): Tensor<D> { return ew.lt(this, other); }
  le(other: Tensor<D> | Scalar): Tensor<D> { return ew.le(this, other); }
  eq(other: Tensor<D> | Scalar): Tensor<D> { return ew.eq(this, other); }
  ne(other: Tensor<D> | Scalar): Tensor<D> { return ew.ne(this, other); }

  // ---- reductions ----

  sum(dim?: number | number[], keepdim = false): Tensor<D> { return red.sum(this, dim, keepdim); }
  mean(dim?: number | number[], keepdim = false): Tensor<D> { return red.mean(this, dim, keepdim); }
  max(dim?: number | number[], keepdim = false): Tensor<D> { return red.max(this, dim, keepdim); }
  min(dim?: number | number[], keepdim = false): Tensor<D> { return red.min(this, dim, keepdim); }
  argmax(dim?: number, keepdim = false): Tensor<'int32'> { return red.argmax(this, dim, keepdim); }
  argmin(dim?: number, keepdim = false): Tensor<'int32'> { return red.argmin(this, dim, keepdim); }

  // ---- linear algebra and softmax ----

  matmul(other: Tensor<D>): Tensor<D> { return mm.matmul(this, other); }
  softmax(dim = -1): Tensor<D> { return sm.softmax(this, dim); }
  logSoftmax(dim = -1): Tensor<D> { return sm.logSoftmax(this, dim); }
}
