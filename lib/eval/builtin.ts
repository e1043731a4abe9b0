/** The built-in tasks: last-word and cloze, from the bundled Brown corpus's held-out documents. */
import { brownTaggedCorpus, taggedText, type TaggedDocument } from '../data/documents.js';
import { splitDocuments } from '../data/dataset.js';
import { ValueError } from '../errors.js';
import { checkOptions } from '../ops/util.js';
import { buildClozeTask } from './cloze.js';
import { buildLastWordTask } from './last_word.js';
import type { Task } from './types.js';

export interface BuiltinTaskOptions {
  /** Seed of the examples (default 0). */
  seed?: number;
  /** Examples per task (default 500). */
  examples?: number;
  /** The training run's data.valFraction (default 0.05, lmforge train's). */
  valFraction?: number;
  /** The training run's data.splitSeed (default 0). */
  splitSeed?: number;
}

// Read once per process: the package's files do not change, and an ablation builds the tasks once per cell.
let brown: { docs: TaggedDocument[]; texts: string[] } | null = null;
function readBrown(): { docs: TaggedDocument[]; texts: string[] } {
  const docs = brownTaggedCorpus();
  return { docs, texts: docs.map(taggedText) };
}

/**
 * [last-word, cloze] made only from the documents that a run on the bundled corpus with this valFraction
 * and splitSeed held out for validation (splitDocuments, exactly as training splits), so no example text was
 * trained on. Sentences that also occur verbatim in a training document (a few short ones do) are
 * skipped too. Deterministic from the seed.
 */
export function builtinTasks(opts: BuiltinTaskOptions = {}): Task[] {
  const op = 'builtinTasks';
  checkOptions(op, opts, ['seed', 'examples', 'valFraction', 'splitSeed']);
  const { docs, texts } = (brown ??= readBrown());
  const { train, val } = splitDocuments(docs.length, { valFraction: opts.valFraction ?? 0.05, seed: opts.splitSeed ?? 0 });
  if (val.length === 0) throw new ValueError(op, 'valFraction 0 holds out no documents, and the built-in tasks are made from held-out documents only');
  const avoid = new Set(train.flatMap((i) => texts[i]!.split('\n')));
  const b = { seed: opts.seed ?? 0, examples: opts.examples, avoid };
  return [
    buildLastWordTask(val.map((i) => ({ source: docs[i]!.source, text: texts[i]! })), b),
    buildClozeTask(val.map((i) => docs[i]!), b),
  ];
}
