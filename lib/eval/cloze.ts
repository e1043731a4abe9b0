/** The multiple-choice cloze task built from part-of-speech tagged documents (the Brown corpus). */
import { checkTaggedDocument, taggedSentenceText, type TaggedDocument, type TaggedWord } from '../data/documents.js';
import { ArgumentTypeError, ValueError } from '../errors.js';
import { checkInt, checkOptions, checkString, describe } from '../ops/util.js';
import { avoidSet, builderOptions, Draws, passageBefore } from './random.js';
import type { ChoiceExample, Task } from './types.js';

export interface ClozeOptions {
  /** Seed of the choice of sentences, blanks, distractors and the gold's position (default 0). */
  seed?: number;
  /** Examples to keep (default 500; fewer when the documents hold fewer). */
  examples?: number;
  /** Wrong choices per example (default 3, so chance is 1/4). */
  distractors?: number;
  /** Sentences never to make an example of (their exact text): builtinTasks passes the training documents' lines. */
  avoid?: ReadonlySet<string>;
}

/** The passage before a sentence that an example carries as context, in characters of whole lines. */
export const CLOZE_CONTEXT_CHARS = 1000;

// Open word classes of the Brown tag set: nouns, verbs (base, past, -ing, participle, 3rd person), adjectives,
// adverbs. Closed classes (articles, prepositions) have so few members that distractors would be trivial.
const OPEN_TAGS = new Set(['nn', 'nns', 'vb', 'vbd', 'vbg', 'vbn', 'vbz', 'jj', 'rb']);

/**
 * The part-of-speech part of a Brown tag: lower case, without the modifiers for words in titles (-tl),
 * headlines (-hl) and citations (-nc), so 'nn-tl' is 'nn'.
 */
export function brownBaseTag(tag: string): string {
  return checkString('brownBaseTag', 'tag', tag).toLowerCase().split('-').filter((p) => p !== 'tl' && p !== 'hl' && p !== 'nc').join('-');
}

/** A word a blank may take: a lower-case word of 3+ letters of an open class (capitals would give proper nouns away). */
function blankable(w: TaggedWord): boolean {
  return /^[a-z]{3,}$/.test(w.word) && OPEN_TAGS.has(brownBaseTag(w.tag));
}

function checkTagged(op: string, docs: unknown): TaggedDocument[] {
  if (!Array.isArray(docs)) throw new ArgumentTypeError(op, `taggedDocs must be an array of { source, sentences } documents, got ${describe(docs)}`);
  docs.forEach((d, k) => checkTaggedDocument(op, `taggedDocs[${k}]`, d));
  return docs as TaggedDocument[];
}

/**
 * Multiple-choice cloze examples: a sentence of at least 6 words with one open-class word (see OPEN_TAGS)
 * blanked; the choices are the whole sentence with the true word and with `distractors` other words of the
 * same base tag, drawn by frequency (a random occurrence, so distractors are as common as the words of
 * the text) from the vocabulary of the same documents. The context is up to CLOZE_CONTEXT_CHARS of the
 * sentences before, ending in a newline (empty for a document's first sentence). Scoring compares the
 * log-likelihood of each whole sentence per UTF-8 byte (lm-evaluation-harness's acc_norm).
 */
export function buildClozeTask(taggedDocs: TaggedDocument[], opts: ClozeOptions = {}): Task {
  const op = 'buildClozeTask';
  checkOptions(op, opts, ['seed', 'examples', 'distractors', 'avoid']);
  const { seed, examples } = builderOptions(op, opts);
  const k = checkInt(op, 'distractors', opts.distractors ?? 3, 1, 100);
  const avoid = avoidSet(op, opts.avoid);
  const docs = checkTagged(op, taggedDocs);
  // Every occurrence of a blankable word, by base tag: drawing an occurrence draws a word by its frequency.
  const pool = new Map<string, string[]>();
  const sentences: { doc: number; at: number; text: string; slots: number[] }[] = [];
  const texts = docs.map((d) => d.sentences.map(taggedSentenceText));
  docs.forEach((d, i) =>
    d.sentences.forEach((words, at) => {
      const slots: number[] = [];
      words.forEach((w, j) => {
        if (!blankable(w)) return;
        slots.push(j);
        const tag = brownBaseTag(w.tag);
        if (!pool.has(tag)) pool.set(tag, []);
        pool.get(tag)!.push(w.word);
      });
      const text = texts[i]![at]!;
      if (slots.length > 0 && words.length >= 6 && !avoid.has(text)) sentences.push({ doc: i, at, text, slots });
    }));
  const draws = new Draws(seed);
  const out: { order: number; ex: ChoiceExample }[] = [];
  const ranked = draws.pick(sentences.map((s, i) => ({ s, i })), sentences.length);
  for (const { s, i } of ranked) {
    if (out.length === examples) break;
    const words = docs[s.doc]!.sentences[s.at]!;
    const slot = s.slots[draws.below(s.slots.length)]!;
    const gold = words[slot]!;
    const same = pool.get(brownBaseTag(gold.tag))!;
    const wrong = new Set<string>();
    // Bounded: a tag with fewer than k other words in the vocabulary gives up on this sentence.
    for (let tries = 0; tries < 50 * k && wrong.size < k; tries++) {
      const w = same[draws.below(same.length)]!;
      if (w !== gold.word) wrong.add(w);
    }
    if (wrong.size < k) continue;
    const fill = (word: string): string => taggedSentenceText(words.map((w, j) => (j === slot ? { word, tag: w.tag } : w)));
    const choices = [...wrong].map(fill);
    const at = draws.below(k + 1);
    choices.splice(at, 0, s.text);
    const before = passageBefore(texts[s.doc]!, s.at, CLOZE_CONTEXT_CHARS);
    out.push({ order: i, ex: { context: before.length ? `${before.join('\n')}\n` : '', choices, gold: at } });
  }
  if (out.length === 0) throw new ValueError(op, `none of the ${docs.length} documents has a sentence of 6+ words with an open-class word and ${k} distractors of its tag`);
  return { name: 'cloze', kind: 'choice', examples: out.sort((a, b) => a.order - b.order).map((o) => o.ex) };
}
