// The README's autograd example, kept runnable: `npx tsx examples/autograd.ts`.
import { copyInto, crossEntropy, gradcheck, matmul, noGrad, randn, tensor, tidy } from '../lib/index.js';

export function main(): { first: number; last: number; gradcheckOk: boolean } {
  const w = randn([16, 8], { std: 0.1 }).setRequiresGrad();
  const x = randn([32, 16]);
  const y = tensor(new Int32Array(32).fill(3));
  const losses: number[] = [];
  for (let step = 0; step < 20; step++) {
    tidy(() => {
      const loss = crossEntropy(matmul(x, w), y);
      loss.backward(); // w.grad now holds dloss/dw (kept past the tidy)
      losses.push(loss.item());
      noGrad(() => copyInto(w, w.sub(w.grad!.mul(0.5)))); // plain SGD, not recorded
      w.zeroGrad();
    });
  }
  // float64 finite differences along random directions
  const a = randn([3, 4], { dtype: 'float64' }).setRequiresGrad();
  const gradcheckOk = gradcheck((t) => t!.tanh().sum(0), [a]).ok;
  console.log(`loss ${losses[0]!.toFixed(3)} -> ${losses.at(-1)!.toFixed(3)}, gradcheck ${gradcheckOk ? 'ok' : 'FAILED'}`);
  return { first: losses[0]!, last: losses.at(-1)!, gradcheckOk };
}

if (import.meta.url === `file://${process.argv[1]}`) main();
