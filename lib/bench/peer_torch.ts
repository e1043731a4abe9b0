/**
 * PyTorch as a peer measured in the same run: bench/peers/torch_gpt.py builds the same GPT and
 * runs the same training step. Found where a python3 with torch is installed (Debian: python3-torch);
 * otherwise the peer is reported as absent with the reason, never as an error. lmforge never needs it.
 *
 * The interpreter: $LMFORGE_PYTHON, else `python3` on the PATH, else Debian's system interpreter
 * (/usr/bin/python3, where python3-torch installs: a pyenv or virtualenv python3 earlier on the PATH
 * does not see it).
 *
 * Its best setting is probed, not assumed: Debian's torch 1.13 calls the system BLAS (OpenBLAS) and runs
 * its own ops on libgomp, so the script times the model's GEMMs followed by elementwise work once per
 * OPENBLAS_CORETYPE × OMP_WAIT_POLICY candidate, each in a fresh process, and the peer runs with the
 * fastest (LMFORGE_TORCH_SETTING="CORETYPE,WAIT" skips the probe); AdamW's foreach path is chosen inside
 * the script the same way.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { GPT } from '../nn/gpt.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCRIPT = join(root, 'bench', 'peers', 'torch_gpt.py');

/** What the peer needs to build the model and run the step; parameter names follow lmforge's GPTConfig. */
export interface TorchPeerConfig {
  layers: number;
  dim: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  seq: number;
  batch: number;
  position: 'rope' | 'alibi' | 'learned' | 'none';
  ropeBase: number;
  ropePairing: 'half' | 'interleaved';
  activation: string;
  mlpHidden: number;
  norm: 'rmsnorm' | 'layernorm';
  normEps: number;
  bias: boolean;
  tieEmbeddings: boolean;
  initStd: number;
  /** lmforge's parameter count: the script refuses to run a model that differs. */
  params: number;
  optimizer: 'adamw' | 'sgd';
  lr: number;
  weightDecay: number;
  /** Gradient clipping by total norm (0: off), as lmforge's step does. */
  clip: number;
  zLoss: number;
  threads: number;
}

/** The peer's config from an lmforge GPT and its step's settings. */
export function torchConfigFor(
  model: GPT,
  step: { batch: number; seq: number; optimizer: 'adamw' | 'sgd'; lr: number; weightDecay: number; clip: number; zLoss?: number; threads: number },
): TorchPeerConfig {
  const c = model.config;
  if (c.dropout > 0) throw new Error(`the PyTorch peer runs without dropout; the model has dropout ${c.dropout}`);
  if (c.dtype !== 'float32') throw new Error(`the PyTorch peer runs in float32; the model is ${c.dtype}`);
  return {
    layers: c.layers, dim: c.dim, heads: c.heads, kvHeads: c.kvHeads, vocab: c.vocabSize, seq: step.seq, batch: step.batch,
    position: c.position, ropeBase: c.ropeBase, ropePairing: c.ropePairing, activation: c.activation, mlpHidden: c.mlpHidden,
    norm: c.norm, normEps: c.normEps, bias: c.bias, tieEmbeddings: c.tieEmbeddings, initStd: c.initStd, params: model.numParameters(),
    optimizer: step.optimizer, lr: step.lr, weightDecay: step.weightDecay, clip: step.clip, zLoss: step.zLoss ?? 0, threads: step.threads,
  };
}

function scriptArgs(c: TorchPeerConfig): string[] {
  const kv: [string, string | number][] = [
    ['layers', c.layers], ['dim', c.dim], ['heads', c.heads], ['kv-heads', c.kvHeads], ['vocab', c.vocab], ['seq', c.seq],
    ['batch', c.batch], ['position', c.position], ['rope-base', c.ropeBase], ['rope-pairing', c.ropePairing],
    ['activation', c.activation], ['mlp-hidden', c.mlpHidden], ['norm', c.norm], ['norm-eps', c.normEps], ['bias', c.bias ? 1 : 0],
    ['tie', c.tieEmbeddings ? 1 : 0], ['init-std', c.initStd], ['params', c.params], ['optimizer', c.optimizer], ['lr', c.lr],
    ['weight-decay', c.weightDecay], ['clip', c.clip], ['z-loss', c.zLoss], ['threads', c.threads],
  ];
  return kv.map(([k, v]) => `--${k}=${v}`);
}

export interface TorchAvailability {
  available: boolean;
  /** Why not, when unavailable. */
  reason: string;
  python: string;
  torch: string;
}

let detected: TorchAvailability | undefined;

/** Finds a python3 that imports torch (cached for the process). Never throws. */
export function detectTorch(): TorchAvailability {
  if (detected) return detected;
  if (!existsSync(SCRIPT)) return (detected = { available: false, reason: 'bench/peers/torch_gpt.py is missing', python: '', torch: '' });
  const candidates = [process.env.LMFORGE_PYTHON, 'python3', '/usr/bin/python3'].filter((p, i, a): p is string => !!p && a.indexOf(p) === i);
  const why: string[] = [];
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 120_000 });
    if (r.status === 0) return (detected = { available: true, reason: '', python: py, torch: r.stdout.trim() });
    why.push(`${py}: ${r.error ? (r.error as NodeJS.ErrnoException).code ?? r.error.message : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`)}`);
  }
  return (detected = { available: false, reason: `no python3 with torch (${why.join('; ')})`, python: '', torch: '' });
}

export interface TorchBlasCandidate {
  coretype: string;
  omp_wait: string;
  gflops: number | null;
  mixed_ms: number | null;
  error: string | null;
}

export interface TorchSetting {
  /** OPENBLAS_CORETYPE ('' = OpenBLAS's own detection). */
  coretype: string;
  /** OMP_WAIT_POLICY ('' = libgomp's default). */
  ompWait: string;
  /** What torch reports as its BLAS ('generic' for Debian's, which is OpenBLAS through libblas.so.3). */
  blas: string;
  candidates: TorchBlasCandidate[];
}

const settings = new Map<string, TorchSetting>();

/** Probes the candidate settings for a config's GEMM shapes (cached per shape and thread count). */
export function probeTorchSetting(c: TorchPeerConfig): TorchSetting {
  const key = JSON.stringify([c.batch * c.seq, c.dim, c.mlpHidden, c.vocab, c.activation, c.threads]);
  const hit = settings.get(key);
  if (hit) return hit;
  const fixed = process.env.LMFORGE_TORCH_SETTING;
  if (fixed !== undefined) {
    // "CORETYPE,WAIT" (either may be empty): a setting chosen by an earlier probe, for repeated runs.
    const [coretype = '', ompWait = ''] = fixed.split(',').map((v) => v.trim());
    return { coretype, ompWait, blas: 'not probed (LMFORGE_TORCH_SETTING)', candidates: [] };
  }
  const py = requireTorch();
  const r = spawnSync(py, [SCRIPT, '--probe-blas', ...scriptArgs(c)], { encoding: 'utf8', timeout: 900_000, maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`torch_gpt.py --probe-blas failed: ${lastLine(r.stderr) || r.error?.message || `exit ${r.status}`}`);
  const p = JSON.parse(lastLine(r.stdout)) as { blas: string; candidates: TorchBlasCandidate[]; best: { coretype: string; omp_wait: string } };
  const s: TorchSetting = { coretype: p.best.coretype, ompWait: p.best.omp_wait, blas: p.blas, candidates: p.candidates };
  settings.set(key, s);
  return s;
}

function requireTorch(): string {
  const t = detectTorch();
  if (!t.available) throw new Error(`PyTorch peer unavailable: ${t.reason}`);
  return t.python;
}

function lastLine(s: string | null | undefined): string {
  return (s ?? '').trim().split('\n').pop() ?? '';
}

function settingArgs(s: TorchSetting | null): string[] {
  return s ? [`--coretype=${s.coretype}`, `--omp-wait=${s.ompWait}`] : [];
}

/** What the script says about itself once it has built and warmed up the model. */
export interface TorchPeerInfo {
  torch: string;
  python: string;
  threads: number;
  params: number;
  openblas_coretype: string;
  omp_wait_policy: string;
  foreach: boolean | null;
  blas: string;
  tokens_per_step: number;
  /** AdamW's step alone with the for-loop and the foreach path, when the script chose between them. */
  optimizer_step_ms?: Record<string, number>;
}

export interface TorchTimes {
  step_ms: number;
  times_ms: number[];
  tokens_per_sec: number;
}

export interface TorchProfile {
  steps: number;
  step_ms: number;
  /** Self CPU time per aten op, ms per step, biggest first. */
  ops: { op: string; calls: number; ms: number }[];
}

/** One process: build, warm up, time `steps` steps (sync; the sweep's per-cell peer). */
export function runTorchOnce(c: TorchPeerConfig, opts: { warmup?: number; steps?: number; setting?: TorchSetting | null } = {}): TorchPeerInfo & TorchTimes {
  const py = requireTorch();
  const args = [SCRIPT, ...scriptArgs(c), ...settingArgs(opts.setting ?? null), `--warmup=${opts.warmup ?? 1}`, `--steps=${opts.steps ?? 3}`];
  const r = spawnSync(py, args, { encoding: 'utf8', timeout: 3_600_000, maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`torch_gpt.py failed: ${lastLine(r.stderr) || r.error?.message || `exit ${r.status}`}`);
  return JSON.parse(lastLine(r.stdout)) as TorchPeerInfo & TorchTimes;
}

/**
 * Runs one step of the peer from lmforge's weights (by parameter name) and tokens, and returns the loss
 * before it, the gradient norm before clipping, and the loss after it: a test compares them with lmforge's
 * to show that the two sides train the same model with the same step.
 */
export function torchCheck(
  c: TorchPeerConfig, params: Record<string, number[]>, x: number[][], y: number[][],
): { loss0: number; grad_norm: number; loss1: number } {
  const py = requireTorch();
  const dir = mkdtempSync(join(tmpdir(), 'lmforge-torch-'));
  try {
    const file = join(dir, 'check.json');
    writeFileSync(file, JSON.stringify({ params, x, y }));
    const r = spawnSync(py, [SCRIPT, ...scriptArgs(c), `--check=${file}`], { encoding: 'utf8', timeout: 600_000, maxBuffer: 1 << 24 });
    if (r.status !== 0) throw new Error(`torch_gpt.py --check failed: ${lastLine(r.stderr) || r.error?.message || `exit ${r.status}`}`);
    return JSON.parse(lastLine(r.stdout)) as { loss0: number; grad_norm: number; loss1: number };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A long-lived peer process (`--serve`): built and warmed up once, then timed in rounds that the caller
 * alternates with its own, so that both sides see the same machine noise.
 */
export class TorchSession {
  readonly info: TorchPeerInfo;
  readonly #proc: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;

  private constructor(proc: ChildProcessWithoutNullStreams, lines: AsyncIterator<string>, info: TorchPeerInfo) {
    this.#proc = proc;
    this.#lines = lines;
    this.info = info;
  }

  static async start(c: TorchPeerConfig, opts: { warmup?: number; setting?: TorchSetting | null } = {}): Promise<TorchSession> {
    const py = requireTorch();
    const proc = spawn(py, [SCRIPT, ...scriptArgs(c), ...settingArgs(opts.setting ?? null), `--warmup=${opts.warmup ?? 2}`, '--serve'], { stdio: 'pipe' });
    let stderr = '';
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d: string) => {
      stderr = (stderr + d).slice(-4000);
    });
    const lines = lineReader(proc, () => stderr);
    const first = await lines.next();
    const { ready: _ready, ...info } = JSON.parse(first.value as string) as TorchPeerInfo & { ready?: boolean };
    return new TorchSession(proc, lines, info);
  }

  async #ask<T>(cmd: string): Promise<T> {
    this.#proc.stdin.write(`${cmd}\n`);
    const r = await this.#lines.next();
    const msg = JSON.parse(r.value as string) as T & { error?: string };
    if (msg.error) throw new Error(`torch_gpt.py: ${msg.error}`);
    return msg;
  }

  /** Times n steps. */
  run(n: number): Promise<TorchTimes> {
    return this.#ask<TorchTimes>(`run ${n}`);
  }

  /** torch.profiler over n steps: self CPU time per aten op. */
  profile(n: number): Promise<TorchProfile> {
    return this.#ask<TorchProfile>(`profile ${n}`);
  }

  close(): void {
    if (this.#proc.exitCode === null) {
      this.#proc.stdin.end('quit\n');
    }
  }
}

// Lines of the child's stdout, one JSON object each; the child's exit before a line rejects with its stderr.
function lineReader(proc: ChildProcessWithoutNullStreams, stderr: () => string): AsyncIterator<string> {
  const ready: string[] = [];
  const waiting: { resolve: (v: IteratorResult<string>) => void; reject: (e: Error) => void }[] = [];
  let buf = '';
  let ended: Error | null = null;
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (d: string) => {
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (!line.startsWith('{')) continue; // only the protocol's JSON lines
      const w = waiting.shift();
      if (w) w.resolve({ value: line, done: false });
      else ready.push(line);
    }
  });
  const fail = (e: Error): void => {
    ended = e;
    for (const w of waiting.splice(0)) w.reject(e);
  };
  proc.on('error', (e) => fail(new Error(`torch_gpt.py could not start: ${e.message}`)));
  proc.on('exit', (code, signal) => fail(new Error(`torch_gpt.py exited (${signal ?? `code ${code}`}): ${lastLine(stderr()) || 'no message'}`)));
  return {
    next(): Promise<IteratorResult<string>> {
      const line = ready.shift();
      if (line !== undefined) return Promise.resolve({ value: line, done: false });
      if (ended) return Promise.reject(ended);
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
  };
}

// ---- the sweep's peer column ----

export interface SweepPeerInfo {
  name: 'PyTorch' | 'none';
  /** False with 'none': the report then says nothing about a peer. */
  requested: boolean;
  available: boolean;
  reason: string;
  torch: string;
  setting: { coretype: string; ompWait: string } | null;
}

export interface SweepPeerCell {
  /** PyTorch's tokens/s for the same model and step; null where it did not run. */
  peerTokensPerSec: number | null;
  /** Ours over the peer's. */
  peerRatio: number | null;
}

/**
 * The sweep's per-cell peer: after lmforge's cell, one PyTorch process builds the same model and times
 * the same step (same threads, tokens per step, optimizer settings, no clipping: the sweep's step has
 * none). The BLAS/OpenMP setting is probed once, at the first cell's shapes, and kept for the sweep.
 * 'none' or an absent torch gives null cells; a failing cell is logged and left null.
 */
export function sweepPeer(choice: 'torch' | 'none' | undefined, threads: number, log: (line: string) => void): {
  info: SweepPeerInfo;
  cell(model: GPT, step: { batch: number; seq: number; optimizer: string; steps: number }, oursTokensPerSec: number): SweepPeerCell;
} {
  const none = { peerTokensPerSec: null, peerRatio: null };
  const t = choice === 'none' ? null : detectTorch();
  const info: SweepPeerInfo = {
    name: t?.available ? 'PyTorch' : 'none', requested: t !== null, available: !!t?.available, reason: t ? t.reason : 'not requested (--peer none)', torch: t?.torch ?? '', setting: null,
  };
  if (!info.available) {
    if (info.requested) log(`No PyTorch peer: ${info.reason}`);
    return { info, cell: () => none };
  }
  let setting: TorchSetting | null = null;
  // The sweep's optimizers (lib/bench/sweep.ts makeOptimizer); PyTorch 1.13 has no 8-bit AdamW or Lion.
  const hyper: Record<string, { optimizer: 'adamw' | 'sgd'; lr: number; weightDecay: number } | undefined> = {
    adamw: { optimizer: 'adamw', lr: 1e-4, weightDecay: 0.1 },
    sgd: { optimizer: 'sgd', lr: 1e-3, weightDecay: 0 },
  };
  return {
    info,
    cell(model, step, ours) {
      const h = hyper[step.optimizer];
      if (!h) {
        info.reason = `no PyTorch counterpart of the optimizer ${step.optimizer}`;
        return none;
      }
      try {
        const c = torchConfigFor(model, { batch: step.batch, seq: step.seq, ...h, clip: 0, threads });
        if (!setting) {
          setting = probeTorchSetting(c);
          info.setting = { coretype: setting.coretype, ompWait: setting.ompWait };
          log(`PyTorch peer ${info.torch}: OPENBLAS_CORETYPE ${setting.coretype || '(auto)'}, OMP_WAIT_POLICY ${setting.ompWait || '(default)'} (probed)`);
        }
        const r = runTorchOnce(c, { warmup: 1, steps: step.steps, setting });
        log(`  PyTorch: ${r.step_ms.toFixed(0)} ms/step, ${r.tokens_per_sec.toFixed(0)} tokens/s, lmforge ${(ours / r.tokens_per_sec).toFixed(2)}×`);
        return { peerTokensPerSec: r.tokens_per_sec, peerRatio: ours / r.tokens_per_sec };
      } catch (e) {
        log(`  PyTorch peer failed: ${e instanceof Error ? e.message : String(e)}`);
        return none;
      }
    },
  };
}

/** Lines for the sweep's Markdown: a table of the cells the peer ran, or one line saying why none did. */
export function sweepPeerMarkdown(rows: readonly ({ size: string; T: number; tokensPerSec: number } & Partial<SweepPeerCell>)[], info?: SweepPeerInfo): string[] {
  if (!info?.requested) return [];
  const ran = rows.filter((r) => r.peerTokensPerSec != null);
  if (!ran.length) return ['', `PyTorch peer: none (${info.reason}).`];
  return [
    '',
    `PyTorch ${info.torch} in the same run (same model, step, threads and tokens per step; OPENBLAS_CORETYPE ${info.setting?.coretype || '(auto)'}, OMP_WAIT_POLICY ${info.setting?.ompWait || '(default)'}, chosen by a probe):`,
    '',
    '| size | T | lmforge tokens/s | PyTorch tokens/s | lmforge / PyTorch |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...ran.map((r) => `| ${r.size} | ${r.T} | ${r.tokensPerSec.toFixed(0)} | ${r.peerTokensPerSec!.toFixed(0)} | ${r.peerRatio!.toFixed(2)}× |`),
  ];
}
