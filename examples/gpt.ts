// The README's model example, kept runnable: `npx tsx examples/gpt.ts`.
import { AdamW, GPT, noGrad, tensor, tidy } from '../lib/index.js';

export function main(): { first: number; last: number; generated: number[] } {
  const model = new GPT({
    vocabSize: 256, seqLen: 64, layers: 2, dim: 64, heads: 4, kvHeads: 2, // grouped-query attention
    position: 'rope', // 'rope' | 'alibi' | 'learned' | 'none'
    activation: 'swiglu', // 'relu' | 'gelu' | 'swish' | 'glu' | 'geglu' | 'swiglu' | 'reglu'
    norm: 'rmsnorm', // 'layernorm' | 'rmsnorm'
  });
  const opt = new AdamW(model.parameters(), { lr: 3e-3, weightDecay: 0.1 });
  const x = tensor(new Int32Array(64).map((_, i) => i % 50), [1, 64]);
  const y = tensor(new Int32Array(64).map((_, i) => (i + 1) % 50), [1, 64]);
  const losses: number[] = [];
  for (let step = 0; step < 10; step++) {
    tidy(() => {
      const { loss } = model.forward(x, y); // logits [B, T, V] and the mean cross-entropy
      loss!.backward();
      losses.push(loss!.item());
      opt.step();
      opt.zeroGrad();
    });
  }
  const ids = noGrad(() => model.generate(x.slice(1, 0, 8), { maxTokens: 16, temperature: 0.8, topK: 20, seed: 1 }));
  const generated = [...ids.dataSync()];
  console.log(`loss ${losses[0]!.toFixed(3)} -> ${losses.at(-1)!.toFixed(3)}; generated ${generated.join(' ')}`);
  return { first: losses[0]!, last: losses.at(-1)!, generated };
}

if (import.meta.url === `file://${process.argv[1]}`) main();
