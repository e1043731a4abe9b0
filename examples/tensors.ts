// The README's tensor example, kept runnable: `npx tsx examples/tensors.ts`.
import { crossEntropy, matmul, memory, randn, tensor, tidy, zeros } from '../lib/index.js';

export function main(): number {
  const x = randn([4, 384], { seed: 1 }); // Tensor<'float32'>, seeded (Philox: same numbers on any thread count)
  const w = randn([384, 1152], { std: 0.02 }); // continues the global stream (manualSeed(n) restarts it)
  const b = zeros([1152]);
  const y = matmul(x, w, { bias: b }); // bias (and residual) fused into the GEMM epilogue
  const v: Float32Array = y.dataSync(); // the dtype is in the type: no cast
  console.log(y.toString(), v.length);

  const loss = tidy(() => {
    // everything created inside is freed, except the result
    const logits = randn([8, 100]);
    const targets = tensor(new Int32Array([1, 5, 7, 2, 0, 99, 3, 4]));
    return crossEntropy(logits, targets); // fused softmax + NLL, mean over valid targets
  });
  console.log(loss.item(), memory()); // { tensors, buffers, bytes, peakBytes }
  const value = loss.item();
  for (const t of [x, w, b, y, loss]) t.dispose();
  return value;
}

if (import.meta.url === `file://${process.argv[1]}`) main();
