/** The last-word task (LAMBADA-style) built from documents. */
import type { Document } from '../data/documents.js';
import { ArgumentTypeError, ValueError } from '../errors.js';
import { checkOptions, checkString, describe } from '../ops/util.js';
import { avoidSet, builderOptions, Draws, passageBefore } from './random.js';
import type { LastWordExample, Task } from './types.js';

export interface LastWordOptions {
  /** Seed of the choice of examples (default 0). */
  seed?: number;
  /** Examples to keep (default 500; fewer when the documents hold fewer). */
  examples?: number;
  /** Lines never to make an example of (exact text): builtinTasks passes the training documents' lines. */
  avoid?: ReadonlySet<string>;
}

/** The passage an example is read in: up to this many characters of whole lines before it. */
export const LAST_WORD_CONTEXT_CHARS = 2000;

// A line whose last word (3+ letters) is followed only by closing punctuation; the word's own line is kept
// up to it, without the space before it.
const LAST_WORD = /^(.*\S)\s+([A-Za-z]{3,})[.!?;:,'")\]]*$/;

/**
 * LAMBADA-style examples from documents (one sentence per line, as the Brown corpus is): the context is
 * a line without its final word, after up to LAST_WORD_CONTEXT_CHARS characters of the lines before it; the
 * target is that word. As in LAMBADA, where the word is meant to be guessable from the passage rather
 * than from the sentence alone, a line counts only when its final word occurs earlier in the context,
 * which also makes the task reachable for small models (by copying). Examples are a seeded sample of all
 * such lines, in document order.
 */
export function buildLastWordTask(docs: Document[], opts: LastWordOptions = {}): Task {
  const op = 'buildLastWordTask';
  checkOptions(op, opts, ['seed', 'examples', 'avoid']);
  const { seed, examples } = builderOptions(op, opts);
  const avoid = avoidSet(op, opts.avoid);
  if (!Array.isArray(docs)) throw new ArgumentTypeError(op, `docs must be an array of { text } documents, got ${describe(docs)}`);
  const all: LastWordExample[] = [];
  docs.forEach((d, k) => {
    const lines = checkString(op, `docs[${k}].text`, (d as Document | null)?.text).split('\n');
    lines.forEach((line, i) => {
      const m = LAST_WORD.exec(line.trim());
      if (!m || avoid.has(line)) return;
      const target = m[2]!;
      const context = [...passageBefore(lines, i, LAST_WORD_CONTEXT_CHARS - m[1]!.length), m[1]!].join('\n');
      if (new RegExp(`\\b${target}\\b`).test(context)) all.push({ context, target });
    });
  });
  if (all.length === 0) throw new ValueError(op, `none of the ${docs.length} documents has a line ending in a word of 3+ letters that occurs earlier in its passage`);
  const order = new Map(all.map((e, i) => [e, i]));
  const picked = new Draws(seed).pick(all, examples).sort((a, b) => order.get(a)! - order.get(b)!);
  return { name: 'last-word', kind: 'last-word', examples: picked };
}
