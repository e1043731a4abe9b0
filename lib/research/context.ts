/**
 * The context-use report (`lmforge context`): for models trained at several sequence lengths on the same token
 * budget, the validation loss by position in the window, binned on a log2 scale, the gain from the first
 * position to the last bin, and the data side (`data stats`): how many documents are longer than the window,
 * how many training windows cross a document end, and how often a token is seen in the run's budget.
 *
 * Positions count from 1: position p is the prediction made with p tokens of context (evaluate()'s
 * perPosition[p − 1]). Bins are [1], [2, 3], [4, 7], ... [2^k, 2^(k+1) − 1], the last one cut at T and folded
 * into the one before when it holds under half its nominal width (T = 64 ends with [32, 64], not [64]).
 */
import { ValueError } from '../errors.js';
import { lineChart } from '../bench/svg.js';
import { dataStats } from '../data/dataset.js';

export interface PositionBin {
  /** First and last position of the bin (1-based, inclusive). */
  lo: number;
  hi: number;
  /** Mean loss over the bin's positions (nats per token). */
  loss: number;
}

/** The log2 bins of positions 1..T (see the file's comment). */
export function positionBins(T: number): { lo: number; hi: number }[] {
  if (!Number.isInteger(T) || T < 1) throw new ValueError('positionBins', `the window length must be an integer >= 1, got ${T}`);
  const bins: { lo: number; hi: number }[] = [];
  for (let lo = 1; lo <= T; lo *= 2) bins.push({ lo, hi: Math.min(2 * lo - 1, T) });
  const last = bins[bins.length - 1]!;
  if (bins.length > 1 && last.hi - last.lo + 1 < last.lo / 2) {
    bins.pop();
    bins[bins.length - 1]!.hi = T;
  }
  return bins;
}

/** Mean loss per log2 bin of a per-position loss (every position weighs the same: each scored as many windows). */
export function binLosses(perPosition: readonly number[]): PositionBin[] {
  if (perPosition.length === 0) throw new ValueError('binLosses', 'no positions to bin');
  return positionBins(perPosition.length).map(({ lo, hi }) => {
    let s = 0;
    for (let p = lo; p <= hi; p++) s += perPosition[p - 1]!;
    return { lo, hi, loss: s / (hi - lo + 1) };
  });
}

/** The data side of one window length for a run's budget, from dataStats over the training documents. */
export interface ContextData {
  documents: number;
  trainTokens: number;
  /** Share of training documents longer than T. */
  longerThanSeqLen: number;
  /** Share of packed training windows (what `train` draws) that cross a document end. */
  crossingShare: number;
  /** The budget in passes over the training tokens. */
  epochs: number;
  /** Windows drawn evenly from inside documents only, for the budget: tokens never reachable, mean and most times seen. */
  insideUnseenShare: number;
  insideMeanTimesSeen: number;
  insideMaxTimesSeen: number;
}

export function contextData(docLengths: readonly number[], seqLen: number, budgetTokens: number): ContextData {
  const s = dataStats(docLengths, seqLen);
  const epochs = s.tokens > 0 ? budgetTokens / s.tokens : 0;
  return {
    documents: s.documents, trainTokens: s.tokens, longerThanSeqLen: s.longerThanSeqLen, crossingShare: s.packed.crossingShare, epochs,
    insideUnseenShare: s.windows.unseenShare, insideMeanTimesSeen: s.windows.meanTimesSeen * epochs, insideMaxTimesSeen: s.windows.maxTimesSeen * epochs,
  };
}

export interface ContextEntry {
  seqLen: number;
  /** The run folder or checkpoint evaluated. */
  source: string;
  parameters: number;
  steps: number;
  /** Training tokens of the run. */
  tokens: number;
  valLoss: number;
  valBitsPerByte: number;
  /** Validation tokens scored. */
  valTokens: number;
  perPosition: number[];
  bins: PositionBin[];
  /** Loss of bin 1 (one token of context) minus the loss of the last bin, in nats per token. */
  gain: number;
  data: ContextData;
}

export function contextEntry(e: Omit<ContextEntry, 'bins' | 'gain'>): ContextEntry {
  const bins = binLosses(e.perPosition);
  return { ...e, bins, gain: bins[0]!.loss - bins[bins.length - 1]!.loss };
}

export interface ContextReport {
  command: string;
  /** The text and tokenizer, in words. */
  data: string;
  /** How the models were made, in words (model, budget, optimizer), or that checkpoints were given. */
  setup: string;
  entries: ContextEntry[];
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const binName = (b: { lo: number; hi: number }): string => (b.lo === b.hi ? String(b.lo) : `${b.lo}–${b.hi}`);

/** context.md: the setup, a summary per length, the loss by position bin (lengths side by side), the data side. */
export function contextMarkdown(r: ContextReport): string {
  const es = [...r.entries].sort((a, b) => a.seqLen - b.seqLen);
  const L: string[] = [
    '# Context use', '', `\`${r.command}\``, '', `Data: ${r.data}.`, '', `Models: ${r.setup}.`, '',
    '## Summary', '',
    '| T | parameters | steps | training tokens | val loss (nats/token) | val bits/byte | loss at position 1 | loss in the last bin | gain, bin 1 → last (nats) |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const e of es) {
    const last = e.bins[e.bins.length - 1]!;
    L.push(
      `| ${e.seqLen} | ${e.parameters.toLocaleString('en-US')} | ${e.steps} | ${e.tokens.toLocaleString('en-US')} | ${e.valLoss.toFixed(4)} | ${e.valBitsPerByte.toFixed(3)} | ` +
        `${e.bins[0]!.loss.toFixed(3)} | ${last.loss.toFixed(3)} (${binName(last)}) | ${e.gain.toFixed(3)} (${pct(e.gain / e.bins[0]!.loss)}) |`,
    );
  }
  // Rows: the bins of the longest length; a shorter length's last bin may span two of them ([32, 64] beside [32, 63] and [64, 127]).
  const longest = es[es.length - 1]!;
  L.push('', '## Validation loss by position (nats/token, mean over each bin of positions)', '', `| positions | ${es.map((e) => `T = ${e.seqLen}`).join(' | ')} |`, `| --- | ${es.map(() => '---:').join(' | ')} |`);
  for (const b of longest.bins) {
    const cells = es.map((e) => {
      const m = e.bins.find((x) => x.lo === b.lo);
      return m ? `${m.loss.toFixed(3)}${m.hi !== b.hi ? ` (to ${m.hi})` : ''}` : '';
    });
    L.push(`| ${binName(b)} | ${cells.join(' | ')} |`);
  }
  L.push(
    '', '## Data side', '',
    '| T | documents longer than T | packed training windows crossing a document end | budget in epochs | inside-document windows: tokens never reached | times a reachable token is seen (mean / most) |',
    '| ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const e of es) {
    const d = e.data;
    L.push(`| ${e.seqLen} | ${pct(d.longerThanSeqLen)} | ${pct(d.crossingShare)} | ${d.epochs.toPrecision(2)} | ${pct(d.insideUnseenShare)} | ${d.insideMeanTimesSeen.toFixed(2)} / ${d.insideMaxTimesSeen.toFixed(2)} |`);
  }
  L.push(
    '',
    `Training draws windows of T tokens anywhere in the packed stream of ${es[0]!.data.documents.toLocaleString('en-US')} training documents ` +
      `(${es[0]!.data.trainTokens.toLocaleString('en-US')} tokens); a window that crosses a document end holds the start of another document, ` +
      'whose first positions have little useful context. The last two columns are for comparison: windows drawn evenly from inside documents only, for the same budget.',
    '', '![loss by position](context.svg)', '',
  );
  return L.join('\n');
}

/** context.svg: loss by position bin, one series per length, log2 x (bins plotted at their first position). */
export function contextChart(r: ContextReport): string {
  const es = [...r.entries].sort((a, b) => a.seqLen - b.seqLen);
  return lineChart({
    title: 'Validation loss by position in the window', xLabel: 'position (tokens of context; log2 bins, at their first position)', yLabel: 'loss (nats/token)',
    logX: 2, yFromZero: false, series: es.map((e) => ({ name: `T = ${e.seqLen}`, points: e.bins.map((b): [number, number] => [b.lo, b.loss]) })),
  });
}
