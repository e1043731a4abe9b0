import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { beforeAll, describe, expect, it } from 'vitest';

import { ValueError } from '../lib/errors.js';
import { native } from '../lib/native.js';
import { BpeTokenizer } from '../lib/data/bpe.js';
import { countWords, trainBpe } from '../lib/data/bpe_train.js';
import { brownCorpus } from '../lib/data/documents.js';
import { tokenizeDocuments } from '../lib/data/dataset.js';
import { BYTE_TO_CHAR, pretokenize, wtf8Decode, wtf8Encode } from '../lib/data/pretokenize.js';
import { loadTokenizer, tokenizerFromSpec } from '../lib/data/tokenizer.js';
import { loadTokenizerFile } from '../lib/data/tokenizer_file.js';
import { referenceEncodePiece, referenceTrainBpe } from './reference/bpe.js';
import { hf, hfIt, hfTokenizer } from './hf_tokenizers.js';
import { Rng } from './reference/prng.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/gpt2_tiny_tokenizer.json', import.meta.url));
const tmp = () => mkdtempSync(join(tmpdir(), 'lmf-bpe-'));

const itHf = hfIt('tokenizer_bpe');

/** Random strings from pools that stress the split regex and WTF-8. */
function randomString(rng: Rng, len: number, opts: { loneSurrogates: boolean; anyPlane?: boolean }): string {
  const pools: (() => string)[] = [
    () => String.fromCharCode(rng.int(0x20, 0x7f)), // ASCII
    () => 'the quick brown fox, 1969! '.slice(rng.int(0, 20)),
    () => String.fromCodePoint(rng.int(0x4e00, 0x9fff)), // CJK
    () => String.fromCodePoint(rng.int(0x1f300, 0x1f64f)), // emoji (surrogate pairs)
    () => 'e\u0301', // combining acute
    () => String.fromCodePoint(rng.int(0x0300, 0x036f)), // combining marks alone
    () => ' \t\n\r\u000b\u000c\u0085\u00a0\u1680\u2000\u2028\u2029\u202f\u3000\ufeff'.slice(rng.int(0, 15)).slice(0, rng.int(1, 6)),
    () => ' '.repeat(rng.int(1, 8)),
    () => "'s 've 'LL 're'd",
    () => String.fromCodePoint(rng.int(0x80, 0x800)), // 2-byte UTF-8
    () => '\u0000\u0001\u007f',
  ];
  // Any code point of the upper planes, some assigned only in recent Unicode versions (see the comparison
  // with the tokenizers package for why it leaves them out).
  if (opts.anyPlane !== false) pools.push(() => String.fromCodePoint(rng.int(0x10000, 0x10ffff)));
  if (opts.loneSurrogates) {
    pools.push(() => String.fromCharCode(rng.int(0xd800, 0xdc00))); // lone high
    pools.push(() => String.fromCharCode(rng.int(0xdc00, 0xe000))); // lone low
    pools.push(() => '\udc00\ud800'); // reversed pair: two lone surrogates
  }
  let s = '';
  while (s.length < len) s += pools[rng.int(0, pools.length)]!();
  return s;
}

describe('BPE training', () => {
  it('merges on a tiny corpus equal the hand-computed list', () => {
    // hug x10, pug x5, pun x12, bun x4, hugs x5 (each its own text: no spaces, one word each).
    const texts = [
      ...Array(10).fill('hug'), ...Array(5).fill('pug'), ...Array(12).fill('pun'), ...Array(4).fill('bun'), ...Array(5).fill('hugs'),
    ];
    const tok = trainBpe(texts, { vocabSize: 1000 });
    const str = (id: number) => new TextDecoder().decode(tok.tokenBytes(id)!);
    // By hand: u g (20), u n (16), h ug (15), p un (12), then a tie at 5 between (p, ug) and (hug, s)
    // that the smaller left id breaks (the byte 'p' is older than the merged 'hug'), then b un (4).
    const expected = [['u', 'g'], ['u', 'n'], ['h', 'ug'], ['p', 'un'], ['p', 'ug'], ['hug', 's'], ['b', 'un']];
    expect(tok.merges().map(([a, b]) => [str(a), str(b)])).toEqual(expected);
    expect(tok.merges().map(([, , c]) => c)).toEqual([257, 258, 259, 260, 261, 262, 263]);
    expect(tok.vocabSize).toBe(1 + 256 + 7);
    expect(tok.eot).toBe(0);
    expect(tok.tokenToId('<|endoftext|>')).toBe(0);
    expect(tok.tokenToId('a')).toBe(1 + 97);
    expect(Array.from(tok.encodeSync('hugs bun'))).toEqual([262, 1 + 32, 263]);
    // minFrequency 5 stops before (b, un) at 4; a vocabulary of 260 stops after three merges.
    expect(trainBpe(texts, { vocabSize: 1000, minFrequency: 5 }).numMerges).toBe(6);
    const small = trainBpe(texts, { vocabSize: 260 });
    expect(small.vocabSize).toBe(260);
    expect(small.merges().map(([a, b]) => [str(a), str(b)])).toEqual(expected.slice(0, 3));
    // Pairs across pre-tokenization pieces are never counted: "a b" has pieces "a" and " b".
    expect(trainBpe(['a b', 'a b'], { vocabSize: 300 }).merges().map(([a, b]) => [a, b])).toEqual([[1 + 32, 1 + 98]]);
  });

  it('equals the naive recount reference on random corpora (ties, runs, reused and banned tokens)', () => {
    const rng = new Rng('bpe naive reference');
    for (let trial = 0; trial < 12; trial++) {
      // Small alphabets make many ties and runs of one letter (the a == b merge case).
      const alphabet = 'abcde'.slice(0, rng.int(2, 6));
      const texts: string[] = [];
      for (let i = 0; i < rng.int(5, 60); i++) {
        let w = '';
        for (let k = rng.int(1, 12); k > 0; k--) w += alphabet[rng.int(0, alphabet.length)];
        texts.push(w);
      }
      // "ab" as a special token: no merge may spell it; "<s>" is spelled by bytes no word holds.
      const specials = trial % 2 === 0 ? ['<|endoftext|>', 'ab'] : ['<s>'];
      const vocabSize = specials.length + 256 + rng.int(1, 40);
      const minFrequency = rng.int(0, 3);
      const tok = trainBpe(texts, { vocabSize, specialTokens: specials, minFrequency });
      const words = [...countWords(texts)].map(([w, c]) => [Array.from(Buffer.from(w, 'utf8')), c] as [number[], number]);
      const ref = referenceTrainBpe(words, specials.map((s) => Array.from(Buffer.from(s, 'utf8'))), vocabSize, minFrequency);
      const ctx = `trial ${trial}, seed ${rng.seed}`;
      expect(tok.merges(), ctx).toEqual(ref.merges.map((m) => [m.left, m.right, m.result]));
      expect(tok.vocabSize, ctx).toBe(ref.tokens.length);
      if (trial % 2 === 0) for (const [, , c] of tok.merges()) expect(c).not.toBe(1);
    }
  });

  it('the native trainer rejects bad arrays with a ValueError and the process lives on', () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, b) => b);
    const voff = Int32Array.from({ length: 257 }, (_, i) => i);
    const ok = () => native.bpeTrain(Int32Array.of(1, 2), Int32Array.of(0, 2), Float64Array.of(3), bytes, voff, 300, 0, 0);
    expect(Array.from(ok())).toEqual([1, 2, 256]);
    expect(() => native.bpeTrain(Int32Array.of(1, 999), Int32Array.of(0, 2), Float64Array.of(3), bytes, voff, 300, 0, 0)).toThrow(/symbols\[1\] = 999/);
    expect(() => native.bpeTrain(Int32Array.of(1, 2), Int32Array.of(0, 5), Float64Array.of(3), bytes, voff, 300, 0, 0)).toThrow(ValueError);
    expect(() => native.bpeTrain(Int32Array.of(1, 2), Int32Array.of(0, 2), Float64Array.of(1.5), bytes, voff, 300, 0, 0)).toThrow(/positive integer/);
    expect(() => native.bpeTrain(Int32Array.of(1, 2), Int32Array.of(0, 2), Float64Array.of(3), bytes, voff, 100, 0, 0)).toThrow(/smaller than the initial vocabulary/);
    expect(() => native.bpeTrain(Int32Array.of(0, 2), Int32Array.of(0, 2), Float64Array.of(3), bytes, voff, 300, 0, 1)).toThrow(/non-special/);
    const dup = Int32Array.from({ length: 257 }, (_, i) => Math.min(i, 255));
    expect(() => native.bpeTrain(Int32Array.of(1), Int32Array.of(0, 1), Float64Array.of(1), bytes, dup, 300, 0, 0)).toThrow(/empty/);
    expect(() => native.bpeTrain([1, 2] as unknown as Int32Array, Int32Array.of(0, 2), Float64Array.of(3), bytes, voff, 300, 0, 0)).toThrow(/Int32Array/);
    expect(Array.from(ok())).toEqual([1, 2, 256]);
  });

  it('bad options and inputs are clear errors', () => {
    expect(() => trainBpe([], { vocabSize: 300 })).toThrow(/corpus is empty/);
    expect(() => trainBpe(['', ''], { vocabSize: 300 })).toThrow(ValueError);
    expect(() => trainBpe(['abc'], { vocabSize: 256 })).toThrow(/smaller than the alphabet: 1 special token\(s\) \+ 256 bytes = 257/);
    expect(() => trainBpe(['abc'], { vocabSize: 258, specialTokens: ['<a>', '<b>', '<c>'] })).toThrow(/smaller than the alphabet/);
    expect(() => trainBpe(['abc'], { vocabSize: 300.5 })).toThrow(/vocabSize must be an integer, got 300.5/);
    expect(() => trainBpe(['abc'], { vocabSize: Number.NaN })).toThrow(/must be an integer/);
    expect(() => trainBpe(['abc'], { vocabSize: '300' as unknown as number })).toThrow(/must be an integer/);
    expect(() => trainBpe(['abc'], { vocabSize: 300, minFrequency: -1 })).toThrow(/minFrequency/);
    expect(() => trainBpe(['abc'], { vocabSize: 300, specialTokens: [] })).toThrow(/at least one/);
    expect(() => trainBpe(['abc'], { vocabSize: 300, specialTokens: ['<s>', '<s>'] })).toThrow(/twice/);
    expect(() => trainBpe(['abc'], { vocabSize: 300, specialTokens: ['a'] })).toThrow(/single byte/);
    expect(() => trainBpe(['abc', 3 as unknown as string], { vocabSize: 300 })).toThrow(/texts\[1\] must be a string/);
    expect(() => trainBpe(5 as unknown as string[], { vocabSize: 300 })).toThrow(/iterable/);
    // The alphabet alone is a valid tokenizer: no merges.
    const bare = trainBpe(['abc'], { vocabSize: 257 });
    expect(bare.numMerges).toBe(0);
    expect(bare.decodeSync(bare.encodeSync('abc'))).toBe('abc');
  });
});

describe('BPE encoding', () => {
  let brown: string[];
  let tok: BpeTokenizer;
  beforeAll(() => {
    brown = brownCorpus().map((d) => d.text);
    // The full Brown corpus, 8192 entries (about a second on the developer machines).
    tok = trainBpe(brown, { vocabSize: 8192 });
  });

  it('trains the full vocabulary on the Brown corpus, with common English merges first', () => {
    expect(tok.vocabSize).toBe(8192);
    expect(tok.numMerges).toBe(8192 - 257);
    const first = tok.merges().slice(0, 5).map(([, , c]) => new TextDecoder().decode(tok.tokenBytes(c)!));
    expect(first).toContain(' the');
    const ids = tok.encodeSync(brown[0]!);
    expect(ids.length).toBeLessThan(Buffer.byteLength(brown[0]!) / 3);
  });

  it('decode(encode(s)) === s for random strings: ASCII, CJK, emoji, combining marks, whitespace runs, lone surrogates', () => {
    const rng = new Rng('bpe round trip');
    for (let i = 0; i < 400; i++) {
      const s = randomString(rng, rng.int(0, 80), { loneSurrogates: true });
      const ids = tok.encodeSync(s);
      expect(tok.decodeSync(ids), `string ${JSON.stringify(s)}, seed ${rng.seed}`).toBe(s);
      for (const id of ids) expect(id >= 1 && id < tok.vocabSize).toBe(true);
    }
    // Long pieces take the heap path: runs of spaces, letters, digits.
    for (const s of [' '.repeat(5000) + 'x', 'a'.repeat(3000), '9'.repeat(777), 'the'.repeat(1000), '\ud800'.repeat(100)])
      expect(tok.decodeSync(tok.encodeSync(s))).toBe(s);
  });

  it('lone surrogates are WTF-8 bytes: ED A0 80 for U+D800, back to the same unit', () => {
    expect(Array.from(wtf8Encode('\ud800'))).toEqual([0xed, 0xa0, 0x80]);
    expect(Array.from(wtf8Encode('a\udfffb'))).toEqual([0x61, 0xed, 0xbf, 0xbf, 0x62]);
    expect(Array.from(wtf8Encode('\ud83d\ude80'))).toEqual([0xf0, 0x9f, 0x9a, 0x80]); // a pair stays 4-byte UTF-8
    expect(wtf8Decode(Uint8Array.of(0xed, 0xa0, 0x80))).toBe('\ud800');
    // Invalid bytes become U+FFFD as TextDecoder makes them (a model can sample any id sequence).
    for (const b of [[0xff], [0xc3], [0xe2, 0x82], [0xf0, 0x9f, 0x9a], [0x80, 0x41], [0xc0, 0xaf], [0xf4, 0x90, 0x80, 0x80], [0xe0, 0x80, 0x80]])
      expect(wtf8Decode(Uint8Array.from(b)), JSON.stringify(b)).toBe(new TextDecoder().decode(Uint8Array.from(b)));
    expect(wtf8Decode(Uint8Array.of(0x41, 0xed, 0xa0, 0x80, 0xff, 0x42))).toBe('A\ud800\ufffdB');
    expect(tok.decodeSync(tok.encodeSync('\udc00\ud800'))).toBe('\udc00\ud800');
    expect(tok.decodeSync(tok.encodeSync('\ufeffBOM first'))).toBe('\ufeffBOM first'); // TextDecoder would drop it
  });

  it('matches GPT-2 encoding semantics of the naive reference on random text', () => {
    const rank = new Map(tok.merges().map(([a, b, c], r) => [`${a} ${b}`, [r, c] as [number, number]]));
    const byteId = (b: number) => 1 + b;
    const rng = new Rng('bpe reference encode');
    for (let i = 0; i < 150; i++) {
      const s = randomString(rng, rng.int(1, 120), { loneSurrogates: true });
      const expected = pretokenize(s).flatMap((p) => referenceEncodePiece(Array.from(wtf8Encode(p), byteId), rank));
      expect(Array.from(tok.encodeSync(s)), `string ${JSON.stringify(s)}, seed ${rng.seed}`).toEqual(expected);
    }
    for (const s of [' '.repeat(300), 'e'.repeat(500), 'abcdefghij'.repeat(40)]) {
      const expected = pretokenize(s).flatMap((p) => referenceEncodePiece(Array.from(wtf8Encode(p), byteId), rank));
      expect(Array.from(tok.encodeSync(s))).toEqual(expected);
    }
  });

  it('special tokens are plain text unless asked for', () => {
    const s = 'end<|endoftext|>start';
    const plain = tok.encodeSync(s);
    expect(Array.from(plain)).not.toContain(tok.eot);
    expect(tok.decodeSync(plain)).toBe(s);
    const special = tok.encodeSync(s, { specialTokens: true });
    expect(Array.from(special).filter((x) => x === tok.eot).length).toBe(1);
    expect(Array.from(special)).toEqual([...tok.encodeSync('end'), tok.eot, ...tok.encodeSync('start')]);
    // decode drops the end-of-document id (the data pipeline's separator).
    expect(tok.decodeSync(special)).toBe('endstart');
  });

  it('bad ids and non-strings are clear errors', async () => {
    expect(() => tok.decodeSync([5, 8192])).toThrow(/ids\[1\] = 8192 is outside the vocabulary \[0, 8192\)/);
    expect(() => tok.decodeSync([1.5])).toThrow(ValueError);
    expect(() => tok.encodeSync(3 as unknown as string)).toThrow(/text must be a string/);
    await expect(tok.encode(null as unknown as string)).rejects.toThrow(ValueError);
    expect(await tok.decode(await tok.encode('async too'))).toBe('async too');
  });

  itHf('encodes the WHOLE Brown corpus exactly as the tokenizers package does with our tokenizer.json', async () => {
    const h = hfTokenizer(tok.toJSONString());
    let tokens = 0;
    for (let i = 0; i < brown.length; i++) {
      const ours = tok.encodeSync(brown[i]!);
      const theirs = (await h.encode(brown[i]!, null, { addSpecialTokens: false })).getIds();
      tokens += ours.length;
      if (ours.length !== theirs.length || ours.some((x, j) => x !== theirs[j])) {
        const j = ours.findIndex((x, k) => x !== theirs[k]);
        expect.fail(`document ${i}: first difference at token ${j}: ours ${Array.from(ours.slice(j, j + 5))} vs ${theirs.slice(j, j + 5)}`);
      }
    }
    expect(tokens).toBeGreaterThan(1_000_000);
  });

  itHf('encodes random Unicode text (whitespace classes, marks, emoji) as the tokenizers package does', async () => {
    const h = hfTokenizer(tok.toJSONString());
    const rng = new Rng('bpe vs tokenizers');
    for (let i = 0; i < 300; i++) {
      // Without arbitrary upper-plane code points: \p{L} and \p{N} follow each engine's Unicode tables,
      // and letters newer than the older one's (CJK Extension H, Unicode 15, is "other" to the Oniguruma in
      // tokenizers 0.23) split differently. Every code point below has been assigned since Unicode 14.
      const s = randomString(rng, rng.int(1, 100), { loneSurrogates: false, anyPlane: false });
      const theirs = (await h.encode(s, null, { addSpecialTokens: false })).getIds();
      expect(Array.from(tok.encodeSync(s)), `string ${JSON.stringify(s)}, seed ${rng.seed}`).toEqual(theirs);
      expect(await h.decode(theirs, false)).toBe(s);
    }
    for (const s of [' '.repeat(2000) + 'x', 'z'.repeat(1500), 'a<|endoftext|>b'])
      expect(Array.from(tok.encodeSync(s, { specialTokens: true }))).toEqual((await h.encode(s, null, { addSpecialTokens: false })).getIds());
  });
});

describe('tokenizer.json', () => {
  it('a hand-written GPT-2-format file loads and encodes as computed by hand', () => {
    const tok = loadTokenizerFile(FIXTURE);
    expect(tok).toBeInstanceOf(BpeTokenizer);
    const t = tok as BpeTokenizer;
    expect(t.vocabSize).toBe(270);
    expect(t.eot).toBe(269);
    // GPT-2's byte order: '!' is 0, 't' (0x74) is 83, 's' 82, the space 'Ġ' 220. Merges, by rank:
    // Ġ t=256, h e=257, i n=258, Ġt he=259, a t=260, Ġ c=261, Ġc at=262, Ġ a=263, t h=264, Ġ at=265,
    // e r=266, Ġ Ġ=267, ĠĠ ĠĠ=268.
    // "the": t h e -> (h e) ranks before (t h) -> t he.  " cat": a t, then Ġ c, then Ġc at.
    // " sat": only a t applies.
    expect(Array.from(t.encodeSync('the cat sat'))).toEqual([83, 257, 262, 220, 82, 260]);
    // " the": Ġ t, then h e, then Ġt he.
    expect(Array.from(t.encodeSync('in the'))).toEqual([258, 259]);
    // " at": a t (rank 4) comes before Ġ a (rank 7), then Ġ at.
    expect(Array.from(t.encodeSync('at at'))).toEqual([260, 265]);
    // "    x": the whitespace run leaves its last space to " x": "   " -> ĠĠ Ġ (leftmost first), " x" -> Ġ x.
    expect(Array.from(t.encodeSync('    x'))).toEqual([267, 220, 220, 87]);
    expect(Array.from(t.encodeSync('<|endoftext|>a', { specialTokens: true }))).toEqual([269, 64]);
    expect(t.decodeSync([83, 257, 262, 220, 82, 260])).toBe('the cat sat');
    expect(t.spec.kind).toBe('file');
    // The same file with [a, b] merge pairs and an explicit model type loads identically.
    const obj = JSON.parse(readFileSync(FIXTURE, 'utf8'));
    obj.model.type = 'BPE';
    obj.model.merges = obj.model.merges.map((m: string) => m.split(' '));
    expect(Array.from(BpeTokenizer.fromJSON(obj).encodeSync('the cat sat'))).toEqual([83, 257, 262, 220, 82, 260]);
  });

  it('GPT-NeoX features: an NFC normalizer, non-special added tokens matched always', () => {
    const o = JSON.parse(readFileSync(FIXTURE, 'utf8'));
    o.normalizer = { type: 'NFC' };
    o.added_tokens.push({ id: 270, content: '   ', single_word: false, lstrip: false, rstrip: false, normalized: true, special: false });
    const t = BpeTokenizer.fromJSON(o);
    // e + U+0301 is composed to é (C3 A9): in GPT-2's byte order 0xC3 is 94 + 12 + (0xC3 - 0xAE) = 127, 0xA9 is 94 + 8 = 102.
    expect(Array.from(t.encodeSync('e\u0301'))).toEqual([127, 102]);
    expect(t.decodeSync(t.encodeSync('e\u0301'))).toBe('\u00e9');
    // The three-space token is not special, so it is matched without { specialTokens: true }.
    expect(Array.from(t.encodeSync('a    b'))).toEqual([64, 270, 220, 65]);
    expect(Array.from(t.encodeSync('<|endoftext|>'))).not.toContain(269);
    expect(t.specialTokens).toEqual(['<|endoftext|>']);
    // And it writes both back.
    const again = BpeTokenizer.fromJSON(JSON.parse(JSON.stringify(t.toJSON())));
    expect(Array.from(again.encodeSync('e\u0301    b'))).toEqual(Array.from(t.encodeSync('e\u0301    b')));
    // parts() rebuilds an identical tokenizer, and the file is the same text.
    expect(new BpeTokenizer(t.parts()).toJSONString()).toBe(t.toJSONString());
    // The surface tokenizerStats reads, as UnigramTokenizer has it: no unknown token, no byte fallback.
    expect(t.unkId).toBeNull();
    expect(t.isByteFallback(64)).toBe(false);
    expect(t.idToToken(270)).toBe('   ');
    expect(t.idToToken(220)).toBe('\u0120'); // the space byte, spelled Ġ
    expect(t.tokenToId(t.idToToken(127))).toBe(127);
  });

  itHf('the NeoX-style variant encodes the same through the tokenizers package', async () => {
    const o = JSON.parse(readFileSync(FIXTURE, 'utf8'));
    o.normalizer = { type: 'NFC' };
    o.added_tokens.push({ id: 270, content: '   ', single_word: false, lstrip: false, rstrip: false, normalized: true, special: false });
    const t = BpeTokenizer.fromJSON(o);
    const h = hfTokenizer(JSON.stringify(o));
    const rng = new Rng('bpe neox variant');
    for (let i = 0; i < 100; i++) {
      const s = randomString(rng, rng.int(1, 60), { loneSurrogates: false, anyPlane: false });
      expect(Array.from(t.encodeSync(s)), JSON.stringify(s)).toEqual((await h.encode(s, null, { addSpecialTokens: false })).getIds());
    }
  });

  itHf('the fixture encodes the same through the tokenizers package', async () => {
    const h = hfTokenizer(readFileSync(FIXTURE, 'utf8'));
    const t = loadTokenizerFile(FIXTURE) as BpeTokenizer;
    for (const s of ['the cat sat', 'in the', 'at at', '    x', 'theater then  cat\n\n  at', 'ünïcödé 🚀 done'])
      expect(Array.from(t.encodeSync(s)), s).toEqual((await h.encode(s, null, { addSpecialTokens: false })).getIds());
  });

  it('writes a standard tokenizer.json and reads it back identically; the spec reloads and checks the hash', () => {
    const texts = ['low lower lowest', 'new newer newest', 'wide wider widest'];
    const tok = trainBpe(texts, { vocabSize: 290, specialTokens: ['<|endoftext|>', '<pad>'], minFrequency: 1 });
    const json = tok.toJSON() as { model: { type: string; vocab: Record<string, number>; merges: [string, string][] }; added_tokens: { id: number; content: string; special: boolean }[]; pre_tokenizer: Record<string, unknown>; decoder: { type: string } };
    expect(json.model.type).toBe('BPE');
    expect(json.pre_tokenizer).toMatchObject({ type: 'ByteLevel', add_prefix_space: false, use_regex: true });
    expect(json.decoder.type).toBe('ByteLevel');
    expect(json.added_tokens.map((a) => [a.id, a.content, a.special])).toEqual([[0, '<|endoftext|>', true], [1, '<pad>', true]]);
    expect(json.model.vocab[BYTE_TO_CHAR[32]!]).toBe(2 + 32);
    expect(json.model.vocab['Ġ']).toBe(2 + 32);
    expect(Object.keys(json.model.vocab).length).toBe(tok.vocabSize);
    expect(json.model.merges.length).toBe(tok.numMerges);

    const dir = tmp();
    const p = join(dir, 'tok.json');
    expect(tok.spec).toMatchObject({ kind: 'file', path: '' });
    expect(() => tokenizerFromSpec(tok.spec)).toThrow(/never saved/);
    tok.save(p);
    expect(tok.spec).toMatchObject({ kind: 'file', path: p });
    const back = loadTokenizer(p) as BpeTokenizer;
    expect(back).toBeInstanceOf(BpeTokenizer);
    expect(back.spec).toEqual(tok.spec);
    expect(back.merges()).toEqual(tok.merges());
    expect(back.eot).toBe(0);
    for (const s of texts) expect(Array.from(back.encodeSync(s))).toEqual(Array.from(tok.encodeSync(s)));
    const again = tokenizerFromSpec(tok.spec) as BpeTokenizer;
    expect(Array.from(again.encodeSync('lowest'))).toEqual(Array.from(tok.encodeSync('lowest')));
    writeFileSync(p, readFileSync(p, 'utf8').replace('"<pad>"', '"<pod>"'));
    expect(() => tokenizerFromSpec(tok.spec)).toThrow(/changed since it was recorded/);
  });

  it('feeds the data pipeline (token cache keyed by the file spec)', async () => {
    const tok = trainBpe(['some text for a tiny tokenizer', 'more text'], { vocabSize: 270 });
    const docs = [{ source: 'a', text: 'some text' }, { source: 'b', text: 'more text for the tiny one' }];
    const cacheDir = tmp();
    const ds = await tokenizeDocuments(docs, tok, { valFraction: 0.5, cacheDir });
    expect(ds.tokenizer.kind).toBe('file');
    expect(ds.vocabSize).toBe(tok.vocabSize);
    expect(ds.eot).toBe(0);
    const all = [...ds.train.tokens, ...ds.val.tokens];
    expect(all.filter((x) => x === 0).length).toBe(2); // one end-of-document id after each document
    expect(all.some((x) => x >= 257)).toBe(true); // merges were used
    const again = await tokenizeDocuments(docs, tok, { valFraction: 0.5, cacheDir });
    expect(Array.from(again.train.tokens)).toEqual(Array.from(ds.train.tokens));
  });

  it('unreadable, malformed and unsupported files are clear errors', () => {
    const dir = tmp();
    expect(() => loadTokenizerFile(join(dir, 'missing.json'))).toThrow(/cannot read tokenizer file/);
    expect(() => loadTokenizerFile(dir)).toThrow(ValueError);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"model": {"type": "BPE", ');
    expect(() => loadTokenizerFile(bad)).toThrow(/is not valid JSON/);
    writeFileSync(bad, '[1, 2]');
    expect(() => loadTokenizerFile(bad)).toThrow(/no "model" object/);
    const base = JSON.parse(readFileSync(FIXTURE, 'utf8'));
    const variant = (f: (o: any) => void) => {
      const o = structuredClone(base);
      f(o);
      writeFileSync(bad, JSON.stringify(o));
      return () => loadTokenizerFile(bad);
    };
    expect(variant((o) => o.model.merges.push('Ġ zz'))).toThrow(/merge 13 uses "zz", which is not in model.vocab/);
    expect(variant((o) => o.model.merges.push('x y'))).toThrow(/makes 'xy', which is not in the vocabulary/);
    expect(variant((o) => delete o.model.vocab['Ā'])).toThrow(ValueError);
    expect(variant((o) => { o.model.vocab['zz'] = 500; })).toThrow(/not contiguous/);
    expect(variant((o) => { o.model.vocab['z z'] = 270; })).toThrow(/not spelled with the ByteLevel byte characters/);
    expect(variant((o) => { o.model.merges[0] = 7; })).toThrow(/merge 0 must be/);
    expect(() => BpeTokenizer.fromJSON({ model: { type: 'WordPiece' } })).toThrow(/model.type is not BPE/);
    expect(() => BpeTokenizer.fromJSON({ ...base, normalizer: { type: 'Lowercase' } })).toThrow(/normalizer \(Lowercase\)/);
    // Nothing above broke the process or the loader.
    expect(loadTokenizerFile(FIXTURE).vocabSize).toBe(270);
  });

  it('files this encoder does not cover go to the tokenizers package (or say it is missing)', () => {
    const dir = tmp();
    const p = join(dir, 'lower.json');
    const o = JSON.parse(readFileSync(FIXTURE, 'utf8'));
    o.normalizer = { type: 'Lowercase' };
    writeFileSync(p, JSON.stringify(o));
    if (hf) {
      const t = loadTokenizerFile(p);
      expect(t.spec.kind).toBe('huggingface');
      expect(t.name).toBe('hf:lower.json');
    } else {
      expect(() => loadTokenizerFile(p)).toThrow(/tokenizers/);
    }
  });
});

describe('pre-tokenization', () => {
  it('splits as GPT-2 does', () => {
    expect(pretokenize("Hello world's  end 123abc\n\n x")).toEqual(['Hello', ' world', "'s", ' ', ' end', ' 123', 'abc', '\n\n', ' x']);
    expect(pretokenize('a\u00a0b')).toEqual(['a', '\u00a0', 'b']);
    expect(pretokenize('')).toEqual([]);
    // EM SPACE is White_Space but not ' ': it never joins the next word, and the run leaves one behind.
    expect(pretokenize('x\u2003\u2003y')).toEqual(['x', '\u2003', '\u2003', 'y']);
    // U+FEFF is JavaScript whitespace but not White_Space (nor Oniguruma's \s): it is a symbol here.
    expect(pretokenize('a \ufeffb')).toEqual(['a', ' \ufeff', 'b']);
  });
});
