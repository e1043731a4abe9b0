// Downstream tasks (lib/eval): built from held-out text only, deterministic, scored against chance.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import {
  AdamW, brownBaseTag, brownCorpus, brownTaggedCorpus, buildClozeTask, buildLastWordTask, builtinTasks, ByteTokenizer, evaluateTasks, GPT,
  loadJsonlTasks, logSoftmax, memory, splitDocuments, tensor, taggedSentenceText, taggedText, tokenizeDocuments, Trainer, ValueError,
  type ChoiceExample, type TaggedDocument, type Task, type Tokenizer,
} from '../lib/index.js';
import { choiceLogLikelihoods, lastWordCorrect } from '../lib/eval/score.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'lmf-eval-'));
const tok = new ByteTokenizer();
/** Standard error of the chance rate itself on n examples: the yardstick for "at chance" and "beats chance". */
const chanceSe = (chance: number, n: number): number => Math.sqrt((chance * (1 - chance)) / n);

describe('the tagged Brown corpus', () => {
  it('renders to exactly the text brownCorpus() holds, document for document', () => {
    const plain = brownCorpus();
    const tagged = brownTaggedCorpus();
    expect(tagged.length).toBe(plain.length);
    tagged.forEach((d, i) => {
      expect(d.source).toBe(plain[i]!.source);
      expect(taggedText(d)).toBe(plain[i]!.text);
    });
  });
});

describe('built-in tasks come from held-out documents only', () => {
  const docs = brownCorpus();
  for (const split of [{}, { valFraction: 0.1, splitSeed: 3 }]) {
    it(`split ${JSON.stringify(split)}: every example lies in a validation document and nowhere in the training text`, () => {
      const { train, val } = splitDocuments(docs.length, { valFraction: 0.05, seed: 0, ...('valFraction' in split ? { valFraction: split.valFraction, seed: split.splitSeed } : {}) });
      const trainText = train.map((i) => docs[i]!.text).join('\n\u0000\n');
      const trainLines = new Set(train.flatMap((i) => docs[i]!.text.split('\n')));
      const tasks = builtinTasks({ examples: 150, ...split });
      expect(tasks.map((t) => t.name)).toEqual(['last-word', 'cloze']);
      for (const task of tasks) {
        expect(task.examples.length).toBe(150);
        for (const ex of task.examples) {
          // The text the model is asked about, with its answer: it must come from held-out documents only.
          const answered = task.kind === 'last-word' ? `${(ex as { context: string }).context} ${(ex as { target: string }).target}` : `${ex.context}${(ex as ChoiceExample).choices[(ex as ChoiceExample).gold]}`;
          expect(val.some((i) => docs[i]!.text.includes(answered)), answered.slice(0, 80)).toBe(true);
          expect(trainText.includes(answered), answered.slice(0, 80)).toBe(false);
          if (ex.context.length > 40) expect(trainText.includes(ex.context)).toBe(false);
          if (task.kind === 'choice') expect(trainLines.has((ex as ChoiceExample).choices[(ex as ChoiceExample).gold]!)).toBe(false);
        }
      }
    });
  }

  it('are deterministic from the seed, and another seed gives other examples', () => {
    const a = builtinTasks({ seed: 7, examples: 40 });
    expect(builtinTasks({ seed: 7, examples: 40 })).toEqual(a);
    const b = builtinTasks({ seed: 8, examples: 40 });
    expect(b[0]!.examples).not.toEqual(a[0]!.examples);
    expect(b[1]!.examples).not.toEqual(a[1]!.examples);
  });

  it('refuse a split that holds nothing out', () => {
    expect(() => builtinTasks({ valFraction: 0 })).toThrow(/holds out no documents/);
  });
});

describe('cloze distractors', () => {
  it('share the blanked word\'s base tag, occur in the same documents with it, and differ from it', () => {
    const tagged = brownTaggedCorpus();
    const held = splitDocuments(tagged.length).val.map((i) => tagged[i]!);
    const byText = new Map(held.flatMap((d) => d.sentences.map((s) => [taggedSentenceText(s), s] as const)));
    const tagsOf = new Map<string, Set<string>>();
    for (const d of held) for (const s of d.sentences) for (const w of s) {
      if (!tagsOf.has(w.word)) tagsOf.set(w.word, new Set());
      tagsOf.get(w.word)!.add(brownBaseTag(w.tag));
    }
    const task = buildClozeTask(held, { seed: 2, examples: 100, distractors: 4 });
    expect(task.examples.length).toBe(100);
    const golds = new Set<number>();
    for (const ex of task.examples as ChoiceExample[]) {
      expect(ex.choices.length).toBe(5);
      expect(new Set(ex.choices).size).toBe(5);
      golds.add(ex.gold);
      const words = byText.get(ex.choices[ex.gold]!)!;
      expect(words).toBeDefined();
      ex.choices.forEach((c, i) => {
        if (i === ex.gold) return;
        // The choice differs from the gold sentence in one space-separated piece; the swapped word is the part
        // of that piece around which both agree, and swapping it back in at its position must give the choice.
        const g = ex.choices[ex.gold]!.split(' '), o = c.split(' ');
        expect(o.length).toBe(g.length);
        const at = g.findIndex((piece, i) => piece !== o[i]);
        const hits = words.flatMap((w, j) => {
          const p = g[at]!.indexOf(w.word);
          if (p < 0) return [];
          const x = o[at]!.slice(p, o[at]!.length - (g[at]!.length - p - w.word.length));
          return c === taggedSentenceText(words.map((v, k) => (k === j ? { ...v, word: x } : v))) ? [{ j, x }] : [];
        });
        expect(hits.length, c).toBeGreaterThan(0);
        const { j, x } = hits[0]!;
        expect(x).not.toBe(words[j]!.word);
        expect(tagsOf.get(x)!.has(brownBaseTag(words[j]!.tag))).toBe(true);
      });
    }
    // The gold's position is drawn too, so "always pick the first" is at chance.
    expect(golds.size).toBe(5);
  });
});

// Six animals, each with its own verb and place: a sentence's words determine each other, so a model that
// learned the text knows every blank and every last word.
const ANIMALS = ['cat', 'dog', 'cow', 'fox', 'owl', 'pig'];
const VERBS = ['sat', 'ran', 'ate', 'hid', 'sang', 'slept'];
const PLACES = ['mat', 'park', 'barn', 'den', 'tree', 'mud'];

function toyDocs(): TaggedDocument[] {
  return Array.from({ length: 12 }, (_, d) => ({
    source: `toy:${d}`,
    sentences: Array.from({ length: 8 }, (_, s) => {
      const a = (d * 5 + ((s * 7) % 4) + (s >> 2)) % 6;
      return [['the', 'at'], [ANIMALS[a]!, 'nn'], [VERBS[a]!, 'vbd'], ['in', 'in'], ['the', 'at'], [PLACES[a]!, 'nn'], ['.', '.']].map(([word, tag]) => ({ word: word!, tag: tag! }));
    }),
  }));
}

describe('scoring against chance', () => {
  const docs = toyDocs();
  const tasks: Task[] = [buildClozeTask(docs, { examples: 80 }), buildLastWordTask(docs.map((d) => ({ source: d.source, text: taggedText(d) })), { examples: 80 })];
  // One id more than the byte tokenizer's: `merged` (below) spells ' mat' with it, a token the model never saw.
  const config = { vocabSize: 258, seqLen: 64, layers: 2, dim: 64, heads: 4, seed: 3 };
  let trained: GPT;

  beforeAll(async () => {
    trained = new GPT(config);
    const ds = await tokenizeDocuments(docs.map((d) => ({ source: d.source, text: taggedText(d) })), tok, { valFraction: 0.1 });
    new Trainer({ model: trained, optimizer: new AdamW(trained.parameters(), { lr: 3e-3 }), data: ds, batchSize: 16, maxSteps: 250, seed: 1, progress: 'none', evalBatches: 1, schedule: () => 3e-3 }).fit();
  }, 60_000);

  it('the toy tasks are what they claim', () => {
    expect(tasks[0]!.examples.length).toBe(80);
    expect(tasks[1]!.examples.length).toBeGreaterThanOrEqual(30);
    for (const ex of tasks[1]!.examples as { context: string; target: string }[]) expect(PLACES).toContain(ex.target);
  });

  it('a model trained on the task text beats chance by more than 3 standard errors', async () => {
    const before = memory().tensors;
    const r = await evaluateTasks(trained, tok, tasks, { batchSize: 7 });
    expect(memory().tensors).toBe(before); // every batch ran in its own tidy scope
    expect(r.map((x) => x.name)).toEqual(['cloze', 'last-word']);
    expect(r[0]!.chance).toBeCloseTo(0.25, 12);
    for (const x of r) {
      expect(x.accuracy, JSON.stringify(x)).toBeGreaterThan(x.chance + 3 * chanceSe(x.chance, x.examples));
      expect(x.stderr).toBeCloseTo(Math.sqrt((x.accuracy * (1 - x.accuracy)) / x.examples), 12);
    }
  });

  it('a randomly initialised model sits at chance within 3 standard errors (built-in tasks)', async () => {
    const r = await evaluateTasks(new GPT({ ...config, vocabSize: 257, seqLen: 128 }), tok, builtinTasks({ examples: 120 }));
    for (const x of r) expect(Math.abs(x.accuracy - x.chance), JSON.stringify(x)).toBeLessThanOrEqual(3 * chanceSe(x.chance, x.examples));
  });

  it('the batch size does not change the answers, and last-word equals real greedy decoding', async () => {
    const a = await evaluateTasks(trained, tok, tasks, { batchSize: 1 });
    const b = await evaluateTasks(trained, tok, tasks, { batchSize: 32 });
    expect(b).toEqual(a);
    // Short contexts, so that greedy decoding sees the same window as the one teacher-forced pass.
    const short = (tasks[1]!.examples as { context: string; target: string }[]).map((e) => ({ context: e.context.slice(-40), target: e.target }));
    const fast = await lastWordCorrect(trained, tok, short, 8);
    const slow = short.map((e) => {
      const ids = tok.encodeSync(e.context);
      const n = e.target.length + 2;
      const out = trained.generate(tensorOf(ids), { maxTokens: n, temperature: 0 });
      const text = tok.decodeSync((out.dataSync() as Int32Array).subarray(ids.length));
      out.dispose();
      return text.startsWith(` ${e.target}`) && !/^[\p{L}\p{N}]/u.test(text.slice(e.target.length + 1));
    });
    expect(fast).toEqual(slow);
    expect(fast.some(Boolean)).toBe(true);
  });

  it('a target whose own tokenization greedy decoding does not follow still counts when greedy spells it', async () => {
    // ' mat' is one token here, which the model never saw: greedy decoding writes it byte by byte.
    const MAT = [32, 109, 97, 116];
    const merged: Tokenizer = {
      name: 'merged', vocabSize: 258, eot: 256, spec: { kind: 'byte' },
      async encode(text) {
        const b = Array.from(tok.encodeSync(text));
        const ids: number[] = [];
        for (let i = 0; i < b.length; i++) {
          if (MAT.every((x, j) => b[i + j] === x)) (ids.push(257), (i += 3));
          else ids.push(b[i]!);
        }
        return Int32Array.from(ids);
      },
      async decode(ids) {
        return tok.decodeSync(Array.from(ids).flatMap((id) => (id === 257 ? MAT : [id])));
      },
    };
    const ex = tasks[1]!.examples as { context: string; target: string }[];
    expect((await merged.encode(' mat.')).length).toBe(2);
    const viaBytes = await lastWordCorrect(trained, tok, ex, 8);
    expect(await lastWordCorrect(trained, merged, ex, 8)).toEqual(viaBytes);
    expect(ex.some((e, i) => e.target === 'mat' && viaBytes[i])).toBe(true);
  });
});

const tensorOf = (ids: Int32Array) => tensor(ids, [ids.length]);

describe('JSONL tasks', () => {
  const file = (lines: string[]): string => {
    const p = join(tmp(), 'task.jsonl');
    writeFileSync(p, lines.join('\n'));
    return p;
  };
  const good = JSON.stringify({ context: 'The sky is', choices: [' blue.', ' green.'], gold: 0 });

  it('reads lm-evaluation-harness lines, named after the file', () => {
    const t = loadJsonlTasks(file([good, '', JSON.stringify({ context: '', choices: ['a', 'b', 'c'], gold: 2, extra: 1 })]));
    expect(t).toEqual({ name: 'task', kind: 'choice', examples: [{ context: 'The sky is', choices: [' blue.', ' green.'], gold: 0 }, { context: '', choices: ['a', 'b', 'c'], gold: 2 }] });
  });

  it('bad lines give a ValueError naming file:line and the field', () => {
    const cases: [string, RegExp][] = [
      [JSON.stringify({ context: 'x', choices: ['a', 'b'] }), /task\.jsonl:2: missing field 'gold'/],
      [JSON.stringify({ context: 'x', choices: ['a', 'b'], gold: 2 }), /task\.jsonl:2: 'gold' must be an integer index in \[0, 2\) into 'choices', got 2/],
      [JSON.stringify({ context: 'x', choices: ['a', 'b'], gold: 0.5 }), /task\.jsonl:2: 'gold' must be an integer/],
      ['{"context": "x", "choices": ["a",', /task\.jsonl:2: not valid JSON/],
      [JSON.stringify({ context: 'x', choices: [], gold: 0 }), /task\.jsonl:2: 'choices' must be an array of at least 2 strings, got 0 choices/],
      [JSON.stringify({ context: 'x', choices: ['a', ''], gold: 0 }), /task\.jsonl:2: 'choices'\[1\] must be a non-empty string/],
      [JSON.stringify({ context: 3, choices: ['a', 'b'], gold: 0 }), /task\.jsonl:2: 'context' must be a string/],
      ['[1, 2]', /task\.jsonl:2: expected an object \{ context, choices, gold \}/],
    ];
    for (const [line, re] of cases) {
      const p = file([good, line]);
      expect(() => loadJsonlTasks(p)).toThrow(ValueError);
      expect(() => loadJsonlTasks(p)).toThrow(re);
    }
    expect(() => loadJsonlTasks(file(['', '  ']))).toThrow(/holds no examples/);
    expect(() => loadJsonlTasks(join(tmp(), 'missing.jsonl'))).toThrow(/cannot read task file .*missing\.jsonl/);
  });
});

describe('evaluateTasks input checks', () => {
  const model = new GPT({ vocabSize: 257, seqLen: 16, layers: 1, dim: 16, heads: 2 });
  it('refuses bad models, tokenizers, tasks and options with clear errors', async () => {
    const task: Task = { name: 't', kind: 'choice', examples: [{ context: 'a', choices: ['b', 'c'], gold: 0 }] };
    await expect(evaluateTasks({} as GPT, tok, [task])).rejects.toThrow(/model must be a GPT/);
    await expect(evaluateTasks(model, {} as ByteTokenizer, [task])).rejects.toThrow(/tokenizer must be a Tokenizer/);
    await expect(evaluateTasks(model, tok, [])).rejects.toThrow(/tasks must be a non-empty array/);
    await expect(evaluateTasks(model, tok, [{ ...task, examples: [{ context: 'a', choices: ['b', 'c'], gold: 5 }] }])).rejects.toThrow(/tasks\[0\]\.examples\[0\] \(t\): 'gold' must be an integer index in \[0, 2\)/);
    await expect(evaluateTasks(model, tok, [{ name: 'w', kind: 'last-word', examples: [{ context: 'a', target: '' }] }])).rejects.toThrow(/'target' must be a non-empty word/);
    await expect(evaluateTasks(model, tok, [{ name: 'w', kind: 'last-word', examples: [{ context: 'a', target: 'x'.repeat(20) }] }])).rejects.toThrow(/needs 1 to 15 to fit the model's window of 16/);
    await expect(evaluateTasks(model, tok, [task], { batchSize: 0 })).rejects.toThrow(/batchSize must be an integer/);
    await expect(evaluateTasks(model, tok, [task], { batchsize: 2 } as never)).rejects.toThrow(/unknown option 'batchsize'.*batchSize/);
  });

  it('scores choices longer than the window whole (rolling windows), contexts cut from the left', async () => {
    // Reference, one forward per choice byte: the choice is scored in chunks of 16 predictions (the window);
    // a chunk's window is the 16 tokens before its last target, so a byte p sees the bytes from there to p.
    const reference = (context: string, choice: string): number => {
      const s = [...(context === '' ? [tok.eot] : tok.encodeSync(context)), ...tok.encodeSync(choice)];
      const first = s.length - tok.encodeSync(choice).length;
      let lp = 0;
      for (let p = first; p < s.length; p++) {
        const last = Math.min(s.length, first + Math.floor((p - first) / 16) * 16 + 16) - 1;
        const window = Int32Array.from(s.slice(Math.max(0, last - 16), p));
        const logits = model.forward(tensor(window, [1, window.length])).logits;
        const row = logSoftmax(logits, -1).dataSync() as Float32Array;
        lp += row[(window.length - 1) * 257 + s[p]!]!;
        logits.dispose();
      }
      return lp;
    };
    const examples = [
      { context: 'x'.repeat(100), choices: [`${'word '.repeat(10)}a`, 'b'], gold: 1 },
      { context: '', choices: ['short', 'a choice of more than sixteen bytes, and then some'], gold: 0 },
      { context: 'abc', choices: ['0123456789abcdef', '0123456789abcdefg'], gold: 0 },
    ];
    const got = await choiceLogLikelihoods(model, tok, examples, 3);
    examples.forEach((ex, e) => ex.choices.forEach((c, i) => expect(got[e]![i]).toBeCloseTo(reference(ex.context, c), 3)));
  });
});
