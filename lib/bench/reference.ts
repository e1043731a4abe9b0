/**
 * The reference configuration, lmforge and PyTorch side by side in one run: a GPT of 6 layers,
 * width 384, 6 heads, seq 256, batch 8, vocabulary 8192, RoPE, SwiGLU, RMSNorm without biases (13.77M
 * parameters), AdamW, fp32, on the threads lmforge runs with; beside it the same model in bf16 mixed precision
 * (bf16 compute, fp32 master weights: GPTConfig's precision 'bf16'). The step is the Trainer's: forward,
 * cross-entropy, backward, clipping the total gradient norm to 1, AdamW, zeroing the gradients, reading
 * the loss.
 *
 * The sides alternate in rounds (the peer stays alive between them, built and warmed up once), so
 * that a burst of other work on a shared machine lands on all of them; each side's figure is the median over
 * all of its timed steps. Then a by-op profile of lmforge's steps (profile.ts; fp32 and bf16) and, where the
 * peer runs, torch.profiler's self time per aten op, show where each side's time goes.
 */
import { ValueError } from '../errors.js';
import { tidy } from '../memory.js';
import { GPT, type GPTConfig } from '../nn/gpt.js';
import { tensor } from '../ops/creation.js';
import { AdamW } from '../optim/adamw.js';
import { clipGradNorm } from '../optim/clip.js';
import { matmulKernel, numThreads } from '../runtime.js';
import { fmaPeak, machineInfo, type MachineInfo } from './machine.js';
import { detectTorch, probeTorchSetting, torchConfigFor, TorchSession, type TorchPeerInfo, type TorchProfile, type TorchSetting } from './peer_torch.js';
import { breakdownMarkdown, profile, stepBreakdown, type StepBreakdown } from './profile.js';
import { median } from './timing.js';

export const REFERENCE_MODEL: GPTConfig = {
  vocabSize: 8192, seqLen: 256, layers: 6, dim: 384, heads: 6, position: 'rope', activation: 'swiglu', norm: 'rmsnorm', bias: false, seed: 1,
};
export const REFERENCE_STEP = { batch: 8, lr: 1e-4, weightDecay: 0.1, clip: 1 } as const;

export interface ReferenceOptions {
  /** Alternating rounds (default 3). */
  rounds?: number;
  /** Timed steps per side per round (default 3). */
  stepsPerRound?: number;
  /** Untimed steps before the first round, per side (default 2). */
  warmup?: number;
  /** 'torch' (default: where present) or 'none'. */
  peer?: 'torch' | 'none';
  /** Probe the peer's BLAS/OpenMP settings first (default true; false runs it with the environment's). */
  probePeer?: boolean;
  /** Steps of the by-op profile (default 2; 0 skips it). */
  profileSteps?: number;
  /** Also run lmforge in bf16 mixed precision beside fp32 (default true). */
  bf16?: boolean;
  /** Steps of torch.profiler on the peer (default 1; 0 skips it). */
  peerProfileSteps?: number;
  /** A smaller model for tests: overrides of REFERENCE_MODEL and the batch. */
  model?: Partial<GPTConfig>;
  batch?: number;
  log?: (line: string) => void;
}

export interface ReferenceSide {
  name: string;
  stepMs: number;
  tokensPerSec: number;
  gflops: number;
  mfu: number;
  /** Median step ms of each round. */
  roundsMs: number[];
}

export interface ReferenceReport {
  machine: MachineInfo;
  threads: number;
  /** FMA peak in GFLOP/s on `threads`, measured in this run. */
  peak: number;
  model: GPTConfig & { params: number; batch: number; tokensPerStep: number; flopsPerToken: number };
  step: string;
  rounds: number;
  stepsPerRound: number;
  lmforge: ReferenceSide;
  /** The same model and step in bf16 mixed precision (null with bf16: false). */
  lmforgeBf16: (ReferenceSide & { kernel: string }) | null;
  /** bf16 tokens/s over fp32's (the target: 1.9 or more). */
  bf16Ratio: number | null;
  torch: (ReferenceSide & { info: TorchPeerInfo; setting: TorchSetting | null }) | null;
  /** Why there is no PyTorch column. */
  torchAbsent: string | null;
  /** lmforge tokens/s over PyTorch's (the target: 2 or more). */
  ratio: number | null;
  breakdown: StepBreakdown | null;
  breakdownBf16: StepBreakdown | null;
  torchProfile: TorchProfile | null;
}

function lcgTokens(n: number, vocab: number, seed: number): Int32Array {
  // Random tokens without the global RNG: a 32-bit LCG (Numerical Recipes constants).
  let s = seed >>> 0;
  return Int32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % vocab;
  });
}

export async function benchReference(opts: ReferenceOptions = {}): Promise<ReferenceReport> {
  const rounds = opts.rounds ?? 3, per = opts.stepsPerRound ?? 3, warmup = opts.warmup ?? 2;
  const profileSteps = opts.profileSteps ?? 2, peerProfileSteps = opts.peerProfileSteps ?? 1;
  for (const [k, v, min] of [['rounds', rounds, 1], ['stepsPerRound', per, 1], ['warmup', warmup, 0], ['profileSteps', profileSteps, 0], ['peerProfileSteps', peerProfileSteps, 0]] as const)
    if (!Number.isInteger(v) || v < min) throw new ValueError('bench reference', `${k} must be an integer >= ${min}, got ${v}`);
  const log = opts.log ?? (() => {});
  const config: GPTConfig = { ...REFERENCE_MODEL, ...opts.model };
  const batch = opts.batch ?? REFERENCE_STEP.batch;
  const T = config.seqLen;
  const threads = numThreads();
  const peak = fmaPeak(threads);
  log(`FMA peak on ${threads} thread(s): ${peak.toFixed(0)} GFLOP/s`);

  const x = tensor(lcgTokens(batch * T, config.vocabSize, 1), [batch, T]);
  const y = tensor(lcgTokens(batch * T, config.vocabSize, 2), [batch, T]);
  // One model, optimizer and step per precision, built from the same seed.
  const trainer = (precision: 'fp32' | 'bf16') => {
    const model = new GPT({ ...config, precision });
    const params = model.parameters();
    const opt = new AdamW(params, { lr: REFERENCE_STEP.lr, weightDecay: REFERENCE_STEP.weightDecay });
    const step = (): number => {
      const t0 = performance.now();
      tidy(() => {
        const loss = model.forward(x, y).loss!;
        loss.backward();
        clipGradNorm(params, REFERENCE_STEP.clip);
        opt.step();
        opt.zeroGrad();
        loss.item();
      });
      return performance.now() - t0;
    };
    return { model, step, dispose: () => { opt.dispose(); model.dispose(); } };
  };
  const fp32 = trainer('fp32');
  const bf16 = (opts.bf16 ?? true) ? trainer('bf16') : null;
  const { model, step } = fp32;
  const N = model.numParameters();
  const L = config.layers, d = config.dim;
  const flopsPerToken = 6 * N + 12 * L * d * T;
  const tokensPerStep = batch * T;
  const side = (name: string, all: number[], roundsMs: number[]): ReferenceSide => {
    const stepMs = median(all);
    const tokensPerSec = (tokensPerStep * 1000) / stepMs;
    const gflops = (flopsPerToken * tokensPerSec) / 1e9;
    return { name, stepMs, tokensPerSec, gflops, mfu: gflops / peak, roundsMs };
  };

  let session: TorchSession | null = null;
  let setting: TorchSetting | null = null;
  let torchAbsent: string | null = null;
  try {
    if (opts.peer === 'none') torchAbsent = 'not requested (--peer none)';
    else {
      const t = detectTorch();
      if (!t.available) torchAbsent = t.reason;
      else {
        const cfg = torchConfigFor(model, { batch, seq: T, optimizer: 'adamw', lr: REFERENCE_STEP.lr, weightDecay: REFERENCE_STEP.weightDecay, clip: REFERENCE_STEP.clip, threads });
        try {
          if (opts.probePeer ?? true) {
            log(`PyTorch ${t.torch} (${t.python}): probing OPENBLAS_CORETYPE × OMP_WAIT_POLICY ...`);
            setting = probeTorchSetting(cfg);
            for (const c of setting.candidates)
              log(`  coretype ${c.coretype || '(auto)'}, wait ${c.omp_wait || '(default)'}: ${c.error ? `failed (${c.error})` : `GEMM ${c.gflops!.toFixed(0)} GFLOP/s, GEMM+elementwise ${c.mixed_ms!.toFixed(0)} ms`}`);
            log(`  chosen: coretype ${setting.coretype || '(auto)'}, wait ${setting.ompWait || '(default)'}`);
          }
          session = await TorchSession.start(cfg, { warmup, setting });
          log(`PyTorch peer ready: ${session.info.params} parameters, ${session.info.threads} thread(s), AdamW foreach ${String(session.info.foreach)}`);
        } catch (e) {
          torchAbsent = `the peer failed: ${e instanceof Error ? e.message : String(e)}`;
          session?.close();
          session = null;
        }
      }
    }
    if (torchAbsent) log(`No PyTorch peer: ${torchAbsent}`);

    for (let i = 0; i < warmup; i++) {
      step();
      bf16?.step();
    }
    const ours: number[] = [], oursRounds: number[] = [], theirs: number[] = [], theirsRounds: number[] = [];
    const half: number[] = [], halfRounds: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const t = Array.from({ length: per }, step);
      ours.push(...t);
      oursRounds.push(median(t));
      let line = `round ${r + 1}/${rounds}: lmforge ${median(t).toFixed(0)} ms/step`;
      if (bf16) {
        const h = Array.from({ length: per }, bf16.step);
        half.push(...h);
        halfRounds.push(median(h));
        line += `, lmforge bf16 ${median(h).toFixed(0)} ms/step`;
      }
      if (session) {
        const p = await session.run(per);
        theirs.push(...p.times_ms);
        theirsRounds.push(p.step_ms);
        line += `, PyTorch ${p.step_ms.toFixed(0)} ms/step`;
      }
      log(line);
    }

    let breakdown: StepBreakdown | null = null;
    if (profileSteps > 0) {
      const { profile: p } = profile(() => {
        for (let i = 0; i < profileSteps; i++) step();
      });
      breakdown = stepBreakdown(p, profileSteps);
    }
    let breakdownBf16: StepBreakdown | null = null;
    if (profileSteps > 0 && bf16) {
      const { profile: p } = profile(() => {
        for (let i = 0; i < profileSteps; i++) bf16.step();
      });
      breakdownBf16 = stepBreakdown(p, profileSteps);
    }
    const torchProfile = session && peerProfileSteps > 0 ? await session.profile(peerProfileSteps) : null;

    const lm = side('lmforge', ours, oursRounds);
    const lmBf16 = bf16 ? { ...side('lmforge bf16', half, halfRounds), kernel: matmulKernel('bfloat16') } : null;
    const pt = session ? { ...side('PyTorch', theirs, theirsRounds), info: session.info, setting } : null;
    return {
      machine: machineInfo(), threads, peak,
      model: { ...config, params: N, batch, tokensPerStep, flopsPerToken },
      step: `forward, cross-entropy, backward, clip the total gradient norm to ${REFERENCE_STEP.clip}, AdamW (lr ${REFERENCE_STEP.lr}, weight decay ${REFERENCE_STEP.weightDecay}), zero the gradients, read the loss`,
      rounds, stepsPerRound: per, lmforge: lm, lmforgeBf16: lmBf16, bf16Ratio: lmBf16 ? lmBf16.tokensPerSec / lm.tokensPerSec : null,
      torch: pt, torchAbsent, ratio: pt ? lm.tokensPerSec / pt.tokensPerSec : null, breakdown, breakdownBf16, torchProfile,
    };
  } finally {
    session?.close();
    for (const t of [x, y]) t.dispose();
    fp32.dispose();
    bf16?.dispose();
  }
}

export function referenceMarkdown(r: ReferenceReport): string {
  const m = r.model;
  const pct = (v: number): string => `${(100 * v).toFixed(0)}%`;
  const row = (s: ReferenceSide, extra: string): string =>
    `| ${s.name} | ${s.stepMs.toFixed(0)} | ${s.tokensPerSec.toFixed(0)} | ${s.gflops.toFixed(0)} | ${pct(s.mfu)} | ${s.roundsMs.map((v) => v.toFixed(0)).join(' / ')} | ${extra} |`;
  const lines = [
    `Reference configuration: GPT with ${m.layers} layers, width ${m.dim}, ${m.heads} heads, seq ${m.seqLen}, batch ${m.batch}, vocabulary ${m.vocabSize}, ${m.position}, ${m.activation}, ${m.norm}, ${m.bias ? 'biases' : 'no biases'}, ${(m.params / 1e6).toFixed(2)}M parameters, fp32${r.lmforgeBf16 ? ' (and bf16 mixed precision: bf16 compute, fp32 master weights)' : ''}; step: ${r.step}.`,
    `${r.machine.cpu}, ${r.threads} thread(s), FMA peak ${r.peak.toFixed(0)} GFLOP/s measured in the same run, ${r.machine.date.slice(0, 10)}. ${r.rounds} alternating rounds of ${r.stepsPerRound} steps per side; medians over all timed steps. GFLOP/s and MFU by 6·N + 12·L·d·T = ${(m.flopsPerToken / 1e6).toFixed(1)} MFLOP per token.`,
    '',
    '| | step ms | tokens/s | GFLOP/s | MFU | round medians (ms) | setting |',
    '| --- | ---: | ---: | ---: | ---: | --- | --- |',
    row(r.lmforge, `node ${r.machine.node}, tier ${r.machine.tier}`),
  ];
  if (r.lmforgeBf16) lines.push(row(r.lmforgeBf16, `bf16 mixed precision, GEMM kernel ${r.lmforgeBf16.kernel}; MFU against the fp32 FMA peak`));
  if (r.torch) {
    const i = r.torch.info;
    const blas = `torch ${i.torch}, BLAS ${i.blas}, OPENBLAS_CORETYPE ${i.openblas_coretype || '(auto)'}, OMP_WAIT_POLICY ${i.omp_wait_policy || '(default)'}, AdamW foreach ${String(i.foreach)}`;
    lines.push(row(r.torch, blas), '', `**lmforge / PyTorch: ${r.ratio!.toFixed(2)}×** tokens/s (target: 3× or more).`);
  } else {
    lines.push('', `No PyTorch peer: ${r.torchAbsent}.`);
  }
  if (r.bf16Ratio !== null) lines.push('', `**lmforge bf16 / fp32: ${r.bf16Ratio.toFixed(2)}×** tokens/s (target: 1.9× or more).`);
  if (r.breakdown) lines.push('', '### Where lmforge\'s step goes', '', breakdownMarkdown(r.breakdown));
  if (r.breakdownBf16) lines.push('', '### Where lmforge\'s bf16 step goes', '', breakdownMarkdown(r.breakdownBf16));
  if (r.torchProfile) {
    const p = r.torchProfile;
    const top = p.ops.slice(0, 15);
    lines.push(
      '', '### Where PyTorch\'s step goes', '',
      `torch.profiler, self CPU time per aten op over ${p.steps} step(s) of ${p.step_ms.toFixed(0)} ms (the profiler's own overhead included):`, '',
      '| aten op | calls/step | ms/step | share of step |', '| --- | ---: | ---: | ---: |',
      ...top.map((o) => `| ${o.op} | ${Number.isInteger(o.calls) ? o.calls : o.calls.toFixed(1)} | ${o.ms.toFixed(1)} | ${pct(o.ms / p.step_ms)} |`),
    );
  }
  return lines.join('\n');
}
