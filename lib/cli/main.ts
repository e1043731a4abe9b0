#!/usr/bin/env node
/** The lmforge command. Errors print one line and set a non-zero exit code; nothing calls exit but a closed pipe (below). */
import { createRequire } from 'node:module';

import { fmaPeak, machineInfo } from '../bench/machine.js';
import { LmforgeError, ValueError } from '../errors.js';
import { backendInfo, cpuInfo, cudaAvailable, matmulKernel, numThreads } from '../runtime.js';
import { command, hint, synopsis, type Command } from './args.js';
import { BENCHES } from './bench_cmd.js';
import { dataStatsCommand, evalCommand, sampleCommand, trainCommand } from './train_cmd.js';
import { tokenizerStatsCommand, tokenizerTrainCommand } from './tokenizer_cmd.js';
import { compareRunsCommand, compareTokenizersCommand } from './compare_cmd.js';
import { contextCommand } from './context_cmd.js';
import { ablateCommand } from './ablate_cmd.js';

function version(): string {
  const require = createRequire(import.meta.url);
  return (require('../../package.json') as { version: string }).version;
}

const infoCommand = command({ name: 'info', summary: 'the machine, CPU features, kernel tiers, threads, FMA peak, CUDA status and which native binary loaded', options: [] }, () => {
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
  const b = backendInfo();
  console.log(`binary:   ${b.path} (${b.origin === 'prebuilt' ? 'prebuilt' : 'built from source'}, package ${b.package})`);
  console.log(`backend:  ${b.backend}${b.fallback ? ' (fallback)' : ''}: ${b.reason}; CUDA code ${b.cudaArchs.join(' ') || 'none'}`);
});

/** Every command, in the order `lmforge help` lists them; a two-word name belongs to the group of its first word. */
const COMMANDS: Command[] = [
  trainCommand, evalCommand, sampleCommand, dataStatsCommand, tokenizerTrainCommand, tokenizerStatsCommand, compareTokenizersCommand, ablateCommand, compareRunsCommand, contextCommand,
  infoCommand, ...BENCHES,
];

/** What the second word of each group is called in its errors. */
const GROUPS: Record<string, string> = { data: 'subcommand', tokenizer: 'subcommand', compare: 'comparison', bench: 'benchmark' };

const HELP_ROW = 'lmforge help [COMMAND]';

function listing(cmds: readonly Command[], extra: [string, string][] = []): string {
  const rows: [string, string][] = [...cmds.map((c): [string, string] => [synopsis(c.spec), c.spec.summary]), ...extra];
  const width = Math.min(44, Math.max(...rows.map(([l]) => l.length)) + 2);
  return rows.map(([l, r]) => (l.length < width ? `  ${l.padEnd(width)}${r}` : `  ${l}\n  ${''.padEnd(width)}${r}`)).join('\n');
}

function globalHelp(): string {
  return `lmforge ${version()} — train and study language models from TypeScript

Usage:
${listing(COMMANDS, [[HELP_ROW, "this text, or a command's help (as lmforge COMMAND --help)"]])}

Every command takes --help, which lists its options. Mistakes (an unknown option, a bad value, a missing
file) print one line and exit with status 2.`;
}

function groupHelp(group: string, members: readonly Command[]): string {
  return `lmforge ${group} — ${members.map((c) => c.spec.name.split(' ')[1]).join(', ')}

Usage:
${listing(members)}

'lmforge ${group} <${GROUPS[group]}> --help' lists its options.`;
}

async function main(argv: readonly string[]): Promise<void> {
  const [first, ...rest] = argv;
  if (first === undefined || first === 'help' || first === '--help' || first === '-h') {
    if (first === 'help' && rest.length > 0) return main([...rest, '--help']);
    return void console.log(globalHelp());
  }
  const top = COMMANDS.find((c) => c.spec.name === first);
  if (top) return top.run(rest);
  const noun = GROUPS[first];
  if (noun === undefined) {
    const names = [...new Set(COMMANDS.map((c) => c.spec.name.split(' ')[0]!)), 'help'];
    throw new LmforgeError('lmforge', `unknown command '${first}'${hint(first, names, "run 'lmforge help'")}`);
  }
  const members = COMMANDS.filter((c) => c.spec.name.startsWith(`${first} `));
  const [sub, ...subRest] = rest;
  if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') return void console.log(groupHelp(first, members));
  const cmd = members.find((c) => c.spec.name === `${first} ${sub}`);
  const subs = members.map((c) => c.spec.name.split(' ')[1]!);
  if (!cmd) throw new ValueError(first, `unknown ${noun} '${sub}'${hint(sub, subs, `available: ${subs.join(', ')}`)}`);
  return cmd.run(subRest);
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
