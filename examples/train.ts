// Training a GPT from TypeScript with the library API: `npx tsx examples/train.ts [steps]`.
// The same run as `lmforge train`, in a script: data, model, optimizer, schedule, trainer, checkpoint, sample.
import { AdamW, GPT, paramGroups, tensor, warmupDecaySchedule } from '../lib/index.js';
import { brownCorpus, ByteTokenizer, dataStats, tokenizeDocuments } from '../lib/data/index.js';
import { loadModel, Trainer } from '../lib/train/index.js';

export async function main(steps = 300, outDir = 'runs/example'): Promise<{ firstLoss: number; valBitsPerByte: number; sample: string }> {
  // 1. Data: the bundled Brown corpus, byte-level tokens, 5% of the documents held out.
  const tok = new ByteTokenizer();
  const docs = brownCorpus();
  const data = await tokenizeDocuments(docs, tok, { valFraction: 0.05, seed: 0 });
  const stats = dataStats(data.train.docLengths, 128);
  console.log(`${stats.documents} training documents, ${stats.tokens} tokens; ${(100 * stats.longerThanSeqLen).toFixed(0)}% longer than 128 tokens`);

  // 2. Model and optimizer: no weight decay on norms and embeddings (paramGroups), warmup + cosine.
  const model = new GPT({ vocabSize: tok.vocabSize, seqLen: 128, layers: 4, dim: 128, heads: 4, position: 'rope', activation: 'swiglu', norm: 'rmsnorm', bias: false });
  const optimizer = new AdamW(paramGroups(model.namedParameters(), { weightDecay: 0.1 }), { lr: 3e-3, beta2: 0.95 });
  const schedule = warmupDecaySchedule({ lr: 3e-3, warmupSteps: Math.min(50, steps), totalSteps: steps, minLr: 3e-4 });

  // 3. Train: callbacks see every step and evaluation; the trainer logs JSONL and checkpoints at the end.
  let firstLoss = NaN;
  const trainer = new Trainer({
    model, optimizer, data, batchSize: 16, maxSteps: steps, schedule, clip: 1, evalEvery: 100, evalBatches: 8,
    logFile: `${outDir}/log.jsonl`, checkpointDir: `${outDir}/checkpoints`,
    onStep: (m) => void (m.step === 1 && (firstLoss = m.loss)),
    onEval: (e) => console.log(`  eval at step ${e.step}: ${e.bitsPerByte.toFixed(3)} bits/byte`),
  });
  const result = trainer.fit();
  console.log(`validation: ${result.finalEval!.bitsPerByte.toFixed(3)} bits per byte after ${result.tokens} tokens`);

  // 4. Load the checkpoint back and sample from it.
  const { model: loaded } = loadModel(`${outDir}/checkpoints`);
  const prompt = await tok.encode('The ');
  const ids = loaded.generate(tensor(prompt, [prompt.length]), { maxTokens: 80, temperature: 0.8, topK: 40, seed: 1 });
  const sample = await tok.decode(ids.dataSync());
  console.log(sample);
  return { firstLoss, valBitsPerByte: result.finalEval!.bitsPerByte, sample };
}

if (import.meta.url === `file://${process.argv[1]}`) await main(Number(process.argv[2] ?? 300));
