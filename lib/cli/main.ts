#!/usr/bin/env node
/** The lmforge command. Errors print one line and set a non-zero exit code; nothing calls exit but a closed pipe (below). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { attentionMarkdown, benchAttention } from '../bench/attention.js';
import { benchGemm, gemmMarkdown } from '../bench/gemm.js';
import { benchGpu, GPU_SWEEP_SIZES, gpuMarkdown, QUICK_GPU } from '../bench/gpu.js';
import { benchLayers, layersMarkdown } from '../bench/layers.js';
import { benchSweep, DEFAULT_SWEEP_SIZES, QUICK_SWEEP, sweepCharts, sweepMarkdown, type SweepOptions } from '../bench/sweep.js';
import { benchOverhead, overheadMarkdown } from '../bench/overhead.js';
import { projectMpt, projectionMarkdown } from '../bench/projection.js';
import { benchAll, reportMarkdown } from '../bench/report.js';
import { benchOptim, optimMarkdown } from '../bench/optim.js';
import { benchSoak, QUICK_SOAK, soakMarkdown } from '../bench/soak.js';
import { fmaPeak, machineInfo } from '../bench/machine.js';
import { LmforgeError } from '../errors.js';
import { cpuInfo, cudaAvailable, matmulKernel, numThreads } from '../runtime.js';
import { intList, parseArgs } from './args.js';
import { dataCommand, evalCommand, sampleCommand, trainCommand } from './train_cmd.js';
import { referenceCommand } from './reference_cmd.js';
import { tokenizerCommand } from './tokenizer_cmd.js';
import { compareCommand } from './compare_cmd.js';

const HELP = `lmforge — train and study language models from TypeScript

Usage:
  lmforge train [options]           train a GPT (no options: a small one on the bundled Brown corpus, CPU, ~2-3 min)
  lmforge eval --checkpoint DIR     validation loss and bits per byte of a checkpoint
  lmforge sample --checkpoint DIR --prompt "..."   generate text
  lmforge data stats [FILES...]     documents, tokens, length histogram, repetition at a sequence length
  lmforge tokenizer train --type bpe|unigram --vocab N --out FILE.json [FILES...]   train a tokenizer.json
  lmforge tokenizer stats --tokenizer FILE.json [FILES...]   bytes per token, vocabulary use, unknowns
  lmforge compare tokenizers        byte, BPE and Unigram at two vocabulary sizes: the same GPT, bits per byte
  lmforge info                      the machine, kernel tiers, threads, CUDA, FMA peak
  lmforge bench gemm [options]      GEMM GFLOP/s vs the FMA peak and OpenBLAS
      --threads 1,2                 thread counts (default 1,2)
      --M 2048                      rows of the activations (default 2048)
      --quick                       shorter timing (noisier)
      --out DIR                     also write DIR/gemm.json and DIR/gemm.md
  lmforge bench sweep [options]     training throughput: model size (1M..91M) x sequence length (128..4096)
      --sizes 1M,5M,14M,45M,91M  --seq-lens 128,1024  --tokens-per-step 4096  --position rope|alibi
      --activation relu|swiglu  --optimizer adamw|adamw8bit|lion|sgd
      --peer torch|none             PyTorch on the same model and step per cell (default torch where installed)
      (also writes projection.json/.md, the MPT projection beside MosaicML's figures, and two SVG charts)
  lmforge bench all [options]       the sweep, the projection and every micro-benchmark in one report:
                                    DIR/report.json, DIR/report.md, DIR/sweep_*.svg (takes the sweep's options;
                                    --quick: under two minutes, without the PyTorch peer unless --peer torch)
  lmforge bench gpu [options]       GPT training on CUDA in bf16: 124M..1.1B x seq 512..8192, tokens/s, MFU vs 989 TFLOP/s
                                    (--quick: 124M at seq 1024; --sizes 124M,350M --seq-lens --tokens-per-step --optimizer)
  lmforge bench soak [options]      memory over a long run: 3,000 training steps, 1,000 generate() calls and
                                    100,000 create/dispose cycles, RSS sampled; fails unless it plateaus
  lmforge bench overhead            per-call cost of the binding (no-op call, 1-element add, autograd, tidy)
  lmforge bench attention [options] fused vs composed causal attention, T 256..8192, D 64/128
      --T 256,1024  --D 64,128      restrict the sweep
  lmforge bench layers [options]    activations, norms, rope, cross-entropy in GB/s vs bandwidth
  lmforge bench optim [options]     optimizer step time, GB/s and state bytes per parameter
      --sizes 1000000,10000000      parameter counts
  lmforge bench kernels             attention, layers and optim together
  lmforge bench reference [options] the issue-8 reference GPT step, lmforge vs PyTorch in one run, by-op breakdown
      --peer torch|none  --threads N  --rounds N  --steps N   (writes DIR/reference.json/.md with --out)
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

function writeCharts(out: string | true | undefined, charts: { file: string; svg: string }[]): void {
  if (typeof out !== 'string') return;
  mkdirSync(out, { recursive: true });
  for (const c of charts) writeFileSync(join(out, c.file), c.svg);
  console.log(`wrote ${charts.map((c) => join(out, c.file)).join(' and ')}`);
}

const BENCHES = ['all', 'sweep', 'gemm', 'attention', 'layers', 'optim', 'kernels', 'overhead', 'gpu', 'soak'];

function bench(argv: string[]): void {
  const [what, ...rest] = argv;
  if (!what || !BENCHES.includes(what)) throw new LmforgeError('lmforge', `unknown benchmark '${what ?? ''}' (available: ${BENCHES.join(', ')})`);
  const a = parseArgs(rest, ['quick'], ['threads', 'M', 'out', 'T', 'D', 'sizes', 'seq-lens', 'tokens-per-step', 'position', 'activation', 'optimizer', 'device', 'peer']);
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
  if (what === 'sweep' || what === 'all') {
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
    // Options given on the command line only; each command fills in its own (quick) defaults.
    const given: SweepOptions = {
      sizes: picked ? DEFAULT_SWEEP_SIZES.filter((z) => picked.includes(z.name)) : undefined,
      seqLens: list('seq-lens'),
      tokensPerStep: list('tokens-per-step')?.[0],
      position: choice('position', ['rope', 'alibi'] as const),
      activation: choice('activation', ['relu', 'swiglu'] as const),
      optimizer: choice('optimizer', ['adamw', 'adamw8bit', 'lion', 'sgd'] as const),
      // PyTorch beside each cell where it is installed; not in `bench all --quick` unless asked for (a PyTorch
      // step per cell alone took longer than the two-minute budget of the whole quick report).
      peer: choice('peer', ['torch', 'none'] as const) ?? (quick && what === 'all' ? 'none' : 'torch'),
    };
    for (const k of Object.keys(given) as (keyof SweepOptions)[]) if (given[k] === undefined) delete given[k];
    if (what === 'all') {
      const rep = benchAll({ quick, sweep: given, log });
      writeReport(out, 'report', rep, reportMarkdown(rep));
      writeCharts(out, sweepCharts(rep.sweep, rep.projection ?? undefined));
      return;
    }
    const rep = benchSweep({
      ...(quick ? QUICK_SWEEP : {}),
      ...given,
      log,
    });
    writeReport(out, 'sweep', rep, sweepMarkdown(rep));
    let projection;
    try {
      projection = projectMpt(rep.rows);
      writeReport(out, 'projection', projection, projectionMarkdown(projection));
    } catch (e) {
      console.log(`\nNo MPT projection: ${e instanceof Error ? e.message : String(e)}`);
    }
    writeCharts(out, sweepCharts(rep, projection));
  }
  if (what === 'gpu') {
    const names = a.options.get('sizes');
    const picked = typeof names === 'string' ? names.split(',').map((n) => n.trim()) : undefined;
    const unknown = picked?.filter((n) => !GPU_SWEEP_SIZES.some((z) => z.name === n));
    if (unknown?.length) throw new LmforgeError('lmforge', `unknown size '${unknown[0]}' (available: ${GPU_SWEEP_SIZES.map((z) => z.name).join(', ')})`);
    const device = a.options.get('device') ?? 'cuda';
    if (device !== 'cuda' && device !== 'cpu') throw new LmforgeError('lmforge', `--device must be cuda or cpu, got '${String(device)}'`);
    const opt = a.options.get('optimizer');
    if (opt !== undefined && !['adamw', 'adamw8bit', 'lion', 'sgd'].includes(opt as string))
      throw new LmforgeError('lmforge', `--optimizer must be one of adamw, adamw8bit, lion, sgd, got '${String(opt)}'`);
    const rep = benchGpu({
      ...(quick ? QUICK_GPU : {}),
      ...(picked ? { sizes: GPU_SWEEP_SIZES.filter((z) => picked.includes(z.name)) } : {}),
      ...(list('seq-lens') ? { seqLens: list('seq-lens') } : {}),
      ...(list('tokens-per-step') ? { tokensPerStep: list('tokens-per-step')![0] } : {}),
      ...(opt !== undefined ? { optimizer: opt as 'adamw' } : {}),
      device,
      log,
    });
    writeReport(out, 'gpu', rep, gpuMarkdown(rep));
  }
  if (what === 'soak') {
    const rep = benchSoak({ ...(quick ? QUICK_SOAK : {}), log });
    writeReport(out, 'soak', rep, soakMarkdown(rep));
    if (!rep.ok) throw new LmforgeError('lmforge', 'memory did not plateau (see the table above)');
  }
  if (what === 'overhead') {
    const rep = benchOverhead(quick ? { calls: 5000, batches: 5 } : {});
    writeReport(out, 'overhead', rep, overheadMarkdown(rep));
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
    case 'tokenizer':
      return tokenizerCommand(rest);
    case 'compare':
      return compareCommand(rest);
    case 'info':
      if (rest.includes('--help')) return void console.log('lmforge info — the machine, CPU features, kernel tier, threads, FMA peak and CUDA status');
      info();
      return;
    case 'bench':
      if (rest[0] === 'reference') return referenceCommand(rest.slice(1));
      if (rest.length === 0 || rest.includes('--help')) return void console.log(HELP);
      bench(rest);
      return;
    default:
      throw new LmforgeError('lmforge', `unknown command '${cmd}' (run 'lmforge help')`);
  }
}

// A reader that went away (`lmforge ... | head`) ends the command quietly, as SIGPIPE ends other tools
// (Node ignores SIGPIPE, so the write fails with EPIPE instead): exiting here is the only way to stop a
// command in the middle of its work, and nothing is left to say to a closed pipe.
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(0);
  });

main(process.argv.slice(2)).catch((e: unknown) => {
  // One line, no stack trace: lmforge errors already name the op and the offending value.
  const msg = e instanceof Error ? e.message.split('\n')[0]! : String(e);
  console.error(e instanceof LmforgeError ? msg : `lmforge: ${msg}`);
  process.exitCode = e instanceof LmforgeError ? 2 : 1;
});
