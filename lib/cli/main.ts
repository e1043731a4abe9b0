#!/usr/bin/env node
/** The lmforge command. Errors print one line and set a non-zero exit code; nothing calls exit. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { attentionMarkdown, benchAttention } from '../bench/attention.js';
import { benchGemm, gemmMarkdown } from '../bench/gemm.js';
import { benchLayers, layersMarkdown } from '../bench/layers.js';
import { benchSweep, DEFAULT_SWEEP_SIZES, sweepMarkdown } from '../bench/sweep.js';
import { benchOptim, optimMarkdown } from '../bench/optim.js';
import { fmaPeak, machineInfo } from '../bench/machine.js';
import { LmforgeError } from '../errors.js';
import { cpuInfo, cudaAvailable, matmulKernel, numThreads } from '../runtime.js';
import { intList, parseArgs } from './args.js';
import { dataCommand, evalCommand, sampleCommand, trainCommand } from './train_cmd.js';

const HELP = `lmforge — train and study language models from TypeScript

Usage:
  lmforge train [options]           train a GPT (no options: a small one on the bundled Brown corpus, CPU, ~2-3 min)
  lmforge eval --checkpoint DIR     validation loss and bits per byte of a checkpoint
  lmforge sample --checkpoint DIR --prompt "..."   generate text
  lmforge data stats [FILES...]     documents, tokens, length histogram, repetition at a sequence length
  lmforge info                      the machine, kernel tiers, threads, CUDA, FMA peak
  lmforge bench gemm [options]      GEMM GFLOP/s vs the FMA peak and OpenBLAS
      --threads 1,2                 thread counts (default 1,2)
      --M 2048                      rows of the activations (default 2048)
      --quick                       shorter timing (noisier)
      --out DIR                     also write DIR/gemm.json and DIR/gemm.md
  lmforge bench sweep [options]     training throughput: model size (1M..91M) x sequence length (128..4096)
      --sizes 1M,5M,14M,45M,91M  --seq-lens 128,1024  --tokens-per-step 4096  --position rope|alibi
      --activation relu|swiglu  --optimizer adamw|adamw8bit|lion|sgd
  lmforge bench attention [options] fused vs composed causal attention, T 256..8192, D 64/128
      --T 256,1024  --D 64,128      restrict the sweep
  lmforge bench layers [options]    activations, norms, rope, cross-entropy in GB/s vs bandwidth
  lmforge bench optim [options]     optimizer step time, GB/s and state bytes per parameter
      --sizes 1000000,10000000      parameter counts
  lmforge bench kernels             attention, layers and optim together
  (every bench takes --quick and --out DIR, which writes DIR/<name>.json and DIR/<name>.md)
  lmforge help                      this text

Every command takes --help.`;

function version(): string {
  const require = createRequire(import.meta.url);
  return (require('../../package.json') as { version: string }).version;
}

function info(): void {
  const m = machineInfo();
  const f = cpuInfo();
  const cuda = cudaAvailable();
  const feats = Object.entries(f).filter(([k, v]) => k !== 'tier' && v === true).map(([k]) => k);
  console.log(`lmforge ${version()} on node ${m.node}`);
  console.log(`cpu:      ${m.cpu} (${m.cores} cores)`);
  console.log(`features: ${feats.join(' ') || 'none'}`);
  console.log(`tier:     ${f.tier}; GEMM kernels fp32 ${matmulKernel('float32')}, bf16 ${matmulKernel('bfloat16')}`);
  console.log(`threads:  ${numThreads()}`);
  console.log(`fma peak: ${fmaPeak(numThreads(), 0.3).toFixed(0)} GFLOP/s fp32 on ${numThreads()} thread(s)`);
  console.log(`cuda:     ${cuda.available ? `${cuda.devices} device(s)` : `unavailable (${cuda.reason})`}`);
}

function writeReport(out: string | true | undefined, name: string, report: unknown, md: string): void {
  console.log(`\n${md}`);
  if (typeof out !== 'string') return;
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, `${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(out, `${name}.md`), `${md}\n`);
  console.log(`wrote ${join(out, `${name}.json`)} and ${join(out, `${name}.md`)}`);
}

const BENCHES = ['sweep', 'gemm', 'attention', 'layers', 'optim', 'kernels'];

function bench(argv: string[]): void {
  const [what, ...rest] = argv;
  if (!what || !BENCHES.includes(what)) throw new LmforgeError('lmforge', `unknown benchmark '${what ?? ''}' (available: ${BENCHES.join(', ')})`);
  const a = parseArgs(rest, ['quick'], ['threads', 'M', 'out', 'T', 'D', 'sizes', 'seq-lens', 'tokens-per-step', 'position', 'activation', 'optimizer']);
  if (a.positionals.length) throw new LmforgeError('lmforge', `unexpected argument '${a.positionals[0]}'`);
  const list = (name: string): number[] | undefined => (a.options.has(name) ? intList(name, a.options.get(name) as string) : undefined);
  const quick = a.options.has('quick');
  const out = a.options.get('out');
  const log = (l: string): void => console.log(l);
  if (what === 'gemm') {
    const rep = benchGemm({ threads: list('threads'), M: list('M')?.[0], minSeconds: quick ? 0.1 : 0.3, rounds: quick ? 1 : 3, log });
    writeReport(out, 'gemm', rep, gemmMarkdown(rep));
  }
  if (what === 'attention' || what === 'kernels') {
    const rep = benchAttention({ T: list('T') ?? (quick ? [256, 1024] : undefined), D: list('D'), minSeconds: quick ? 0.2 : undefined, log });
    writeReport(out, 'attention', rep, attentionMarkdown(rep));
  }
  if (what === 'sweep') {
    const choice = <T extends string>(name: string, allowed: readonly T[]): T | undefined => {
      const v = a.options.get(name);
      if (v === undefined) return undefined;
      if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v))
        throw new LmforgeError('lmforge', `--${name} must be one of ${allowed.join(', ')}, got '${String(v)}'`);
      return v as T;
    };
    const names = a.options.get('sizes');
    const picked = typeof names === 'string' ? names.split(',').map((n) => n.trim()) : undefined;
    const unknown = picked?.filter((n) => !DEFAULT_SWEEP_SIZES.some((z) => z.name === n));
    if (unknown?.length) throw new LmforgeError('lmforge', `unknown size '${unknown[0]}' (available: ${DEFAULT_SWEEP_SIZES.map((z) => z.name).join(', ')})`);
    const rep = benchSweep({
      sizes: picked ? DEFAULT_SWEEP_SIZES.filter((z) => picked.includes(z.name)) : quick ? DEFAULT_SWEEP_SIZES.slice(0, 2) : undefined,
      seqLens: list('seq-lens') ?? (quick ? [128, 512, 2048] : undefined),
      tokensPerStep: list('tokens-per-step')?.[0] ?? (quick ? 2048 : undefined),
      position: choice('position', ['rope', 'alibi'] as const),
      activation: choice('activation', ['relu', 'swiglu'] as const),
      optimizer: choice('optimizer', ['adamw', 'adamw8bit', 'lion', 'sgd'] as const),
      steps: quick ? 2 : undefined,
      log,
    });
    writeReport(out, 'sweep', rep, sweepMarkdown(rep));
  }
  if (what === 'layers' || what === 'kernels') {
    const rep = benchLayers({ minSeconds: quick ? 0.05 : undefined, dims: quick ? [384] : undefined, vocabs: quick ? [8192] : undefined });
    writeReport(out, 'layers', rep, layersMarkdown(rep));
  }
  if (what === 'optim' || what === 'kernels') {
    const rep = benchOptim({ sizes: list('sizes') ?? (quick ? [1_000_000] : undefined), seconds: quick ? 0.1 : undefined });
    writeReport(out, 'optim', rep, optimMarkdown(rep));
  }
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(HELP);
      return;
    case 'train':
      return trainCommand(rest);
    case 'eval':
      return evalCommand(rest);
    case 'sample':
      return sampleCommand(rest);
    case 'data':
      return dataCommand(rest);
    case 'info':
      if (rest.includes('--help')) return void console.log('lmforge info — the machine, CPU features, kernel tier, threads, FMA peak and CUDA status');
      info();
      return;
    case 'bench':
      if (rest.length === 0 || rest.includes('--help')) return void console.log(HELP);
      bench(rest);
      return;
    default:
      throw new LmforgeError('lmforge', `unknown command '${cmd}' (run 'lmforge help')`);
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  // One line, no stack trace: lmforge errors already name the op and the offending value.
  const msg = e instanceof Error ? e.message.split('\n')[0]! : String(e);
  console.error(e instanceof LmforgeError ? msg : `lmforge: ${msg}`);
  process.exitCode = e instanceof LmforgeError ? 2 : 1;
});
