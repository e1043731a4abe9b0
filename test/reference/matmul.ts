/**
 * Float64 reference GEMM, written from the definition: C[b] = A[b] @ B[b] (+ bias + residual), with
 * NumPy's batch broadcasting. Independent of lmforge: plain loops over Float64Arrays.
 */

export interface Mat {
  shape: number[];
  data: Float64Array;
}

function strides(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** a [..., M, K] @ b [..., K, N] with broadcast batch dims; 1-d operands as in numpy.matmul. */
export function refMatmul(a: Mat, b: Mat, bias?: Float64Array, residual?: Float64Array): Mat {
  let as = a.shape, bs = b.shape;
  const aVec = as.length === 1, bVec = bs.length === 1;
  if (aVec) as = [1, as[0]!];
  if (bVec) bs = [bs[0]!, 1];
  const M = as[as.length - 2]!, K = as[as.length - 1]!, N = bs[bs.length - 1]!;
  if (bs[bs.length - 2] !== K) throw new Error('inner sizes differ');
  const ba = as.slice(0, -2), bb = bs.slice(0, -2);
  const nb = Math.max(ba.length, bb.length);
  const batch: number[] = [];
  for (let i = 0; i < nb; i++) {
    const da = ba[i - (nb - ba.length)] ?? 1, db = bb[i - (nb - bb.length)] ?? 1;
    batch.push(da === 1 ? db : da);
  }
  const nbatch = batch.reduce((x, y) => x * y, 1);
  const bst = strides(batch);
  const out = new Float64Array(nbatch * M * N);
  const batchOffset = (bdims: number[], idx: number): number => {
    // index of the broadcast batch element idx within an operand whose batch dims are bdims
    let off = 0, mul = 1;
    for (let i = bdims.length - 1; i >= 0; i--) {
      const full = Math.floor(idx / bst[i + (nb - bdims.length)]!) % batch[i + (nb - bdims.length)]!;
      off += (bdims[i] === 1 ? 0 : full) * mul;
      mul *= bdims[i]!;
    }
    return off;
  };
  for (let t = 0; t < nbatch; t++) {
    const ao = batchOffset(ba, t) * M * K, bo = batchOffset(bb, t) * K * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a.data[ao + m * K + k]! * b.data[bo + k * N + n]!;
        if (bias) s += bias[n]!;
        const o = t * M * N + m * N + n;
        if (residual) s += residual[o]!;
        out[o] = s;
      }
    }
  }
  const shape = [...batch];
  if (!aVec) shape.push(M);
  if (!bVec) shape.push(N);
  return { shape, data: out };
}

/** Per-element bound for a product accumulated in fp32: eps * sum_k |a||b| (plus |bias| + |residual|). */
export function refMatmulBound(a: Mat, b: Mat): Float64Array {
  const abs = (m: Mat): Mat => ({ shape: m.shape, data: m.data.map(Math.abs) });
  return refMatmul(abs(a), abs(b)).data;
}
