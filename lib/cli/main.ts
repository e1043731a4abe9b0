#!/usr/bin/env node
/** The lmforge command. Errors print one line and set a non-zero exit code; nothing calls exit. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { benchGemm, gemmMarkdown } from '../bench/gemm.js';
import { fmaPeak, machineInfo } from '../bench/machine.js';
import { LmforgeError } from '../errors.js';
import { cpuInfo, cudaAvailable, matmulKernel, numThreads } from '../runtime.js';
import { intList, parseArgs } from './args.js';

const HELP = `lmforge — train and study language models from TypeScript

Usage:
  lmforge info                      the machine, kernel tiers, threads, CUDA, FMA peak
  lmforge bench gemm [options]      GEMM GFLOP/s vs the FMA peak and OpenBLAS
      --threads 1,2                 thread counts (default 1,2)
      --M 2048                      rows of the activations (default 2048)
      --quick                       shorter timing (noisier)
      --out DIR                     also write DIR/gemm.json and DIR/gemm.md
  lmforge help                      this text

Training (lmforge train) arrives with the trainer; see the README's roadmap.`;

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

function bench(argv: string[]): void {
  const [what, ...rest] = argv;
  if (what !== 'gemm') throw new LmforgeError('lmforge', `unknown benchmark '${what ?? ''}' (available: gemm)`);
  const a = parseArgs(rest, ['quick'], ['threads', 'M', 'out']);
  if (a.positionals.length) throw new LmforgeError('lmforge', `unexpected argument '${a.positionals[0]}'`);
  const threads = a.options.has('threads') ? intList('threads', a.options.get('threads') as string) : undefined;
  const M = a.options.has('M') ? intList('M', a.options.get('M') as string)[0] : undefined;
  console.log('| pass | problem | threads | lmforge GFLOP/s | of peak | OpenBLAS GFLOP/s | lmforge / OpenBLAS |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
  const rep = benchGemm({ threads, M, minSeconds: a.options.has('quick') ? 0.1 : 0.5, log: (l) => console.log(l) });
  const md = gemmMarkdown(rep);
  console.log(`\n${md.split('\n').slice(0, 3).join('\n')}`);
  const out = a.options.get('out');
  if (typeof out === 'string') {
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'gemm.json'), `${JSON.stringify(rep, null, 2)}\n`);
    writeFileSync(join(out, 'gemm.md'), `${md}\n`);
    console.log(`wrote ${join(out, 'gemm.json')} and ${join(out, 'gemm.md')}`);
  }
}

function main(argv: string[]): void {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(HELP);
      return;
    case 'info':
      info();
      return;
    case 'bench':
      bench(rest);
      return;
    default:
      throw new LmforgeError('lmforge', `unknown command '${cmd}' (run 'lmforge help')`);
  }
}

try {
  main(process.argv.slice(2));
} catch (e) {
  console.error(e instanceof Error ? e.message : String(e));
  process.exitCode = e instanceof LmforgeError ? 2 : 1;
}
