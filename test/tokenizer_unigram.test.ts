import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { beforeAll, describe, expect, it } from 'vitest';

import { ValueError } from '../lib/errors.js';
import { native } from '../lib/native.js';
import { numThreads, setNumThreads } from '../lib/runtime.js';
import { brownCorpus } from '../lib/data/documents.js';
import { HuggingFaceTokenizer, tokenizerFromSpec } from '../lib/data/tokenizer.js';
import { loadTokenizerFile } from '../lib/data/tokenizer_file.js';
import { UNIGRAM_PIPELINE, UnigramTokenizer, unigramWords } from '../lib/data/unigram.js';
import { trainBpe } from '../lib/data/bpe_train.js';
import { digamma, packCodePoints, trainUnigram, type UnigramTrainReport } from '../lib/data/unigram_train.js';
import { hf, hfIt, hfTokenizer } from './hf_tokenizers.js';
import { Rng } from './reference/prng.js';
import { bestAlternative, eStepReference } from './reference/unigram.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/unigram_sp_tokenizer.json', import.meta.url));
const tmp = () => mkdtempSync(join(tmpdir(), 'lmf-unigram-'));

const itHf = hfIt('tokenizer_unigram');

/** The native E-step on these words and pieces beside the float64 reference (pp: the packed pieces). */
function eStepBoth(words: string[], counts: number[], pieceArr: string[], scores: number[]) {
  const pw = packCodePoints(words, 'test');
  const pp = packCodePoints(pieceArr, 'test');
  const got = native.unigramEStep(pw.chars, pw.offsets, Float64Array.from(counts), pp.chars, pp.offsets, Float64Array.from(scores));
  return { got, ref: eStepReference(words, counts, pieceArr, scores), pp };
}

const BYTES: [string, number][] = Array.from({ length: 256 }, (_, b) => [`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, -100]);

/** A tokenizer with lmforge's pipeline over a hand-written vocabulary (after <unk>, <|endoftext|>). */
function handMade(pieces: [string, number][], byteFallback: boolean): UnigramTokenizer {
  const vocab: [string, number][] = [['<unk>', 0], ['<|endoftext|>', 0], ...(byteFallback ? BYTES : []), ...pieces];
  return new UnigramTokenizer({
    vocab, unkId: 0, byteFallback,
    added: [{ id: 0, content: '<unk>', special: true }, { id: 1, content: '<|endoftext|>', special: true }],
    normalizer: UNIGRAM_PIPELINE.normalizer, preTokenizer: UNIGRAM_PIPELINE.pre_tokenizer, decoder: UNIGRAM_PIPELINE.decoder,
  });
}

const pieceList = (tok: UnigramTokenizer, text: string) => [...tok.encodeSync(text)].map((id) => tok.idToToken(id));

function randomString(rng: Rng, len: number): string {
  const pools: (() => string)[] = [
    () => String.fromCharCode(rng.int(0x20, 0x7f)), // ASCII
    () => 'hello world, the cat. '.slice(rng.int(0, 18)),
    () => String.fromCodePoint(rng.int(0x4e00, 0x9fff)), // CJK
    () => String.fromCodePoint(rng.int(0x1f300, 0x1f64f)), // emoji (surrogate pairs)
    () => ' '.repeat(rng.int(1, 6)), // space runs
    () => ' \t\n\r\u00a0\u3000'.slice(rng.int(0, 6)).slice(0, rng.int(1, 4)), // other whitespace
    () => '\n'.repeat(rng.int(1, 4)) + ' '.repeat(rng.int(0, 3)),
    () => String.fromCodePoint(rng.int(0x80, 0x800)),
    () => String.fromCodePoint(rng.int(0x10000, 0x10ffff)),
    () => String.fromCharCode(rng.int(0xd800, 0xdc00)), // lone high surrogate
    () => String.fromCharCode(rng.int(0xdc00, 0xe000)), // lone low surrogate
    () => '\udc00\ud800', // reversed pair: two lone surrogates
    () => '<0x41><unk>',
  ];
  let s = rng.int(0, 3) === 0 ? ' '.repeat(rng.int(1, 4)) : ''; // leading spaces
  while (s.length < len) s += pools[rng.int(0, pools.length)]!();
  return s.replaceAll('\u2581', '');
}

describe('Unigram encoder (Viterbi)', () => {
  it('segments a hand-written vocabulary as computed by hand', () => {
    const tok = handMade([['▁', -3], ['a', -2], ['b', -2], ['c', -2.5], ['ab', -3], ['abc', -7], ['bc', -3.5], ['▁ab', -4], ['x', -1], ['y', -1], ['xy', -2]], false);
    // "▁abc": ▁ab|c = -6.5 beats ▁|ab|c = -8.5, ▁|a|bc = -8.5, ▁|abc = -10.
    expect(pieceList(tok, 'abc')).toEqual(['▁ab', 'c']);
    // "▁cab": ▁|c|ab = -8.5 beats ▁|c|a|b = -9.5.
    expect(pieceList(tok, 'cab')).toEqual(['▁', 'c', 'ab']);
    // "xy" ties with "x"+"y" (-2 both, exactly): the piece that starts earliest (the longer last piece) wins.
    expect(pieceList(tok, 'xy')).toEqual(['▁', 'xy']);
    // Words: a space starts a new word; a leading space is a word "▁" of its own.
    expect(pieceList(tok, ' ab c')).toEqual(['▁', '▁ab', '▁', 'c']);
    // Unknown characters fuse into one <unk> (no byte pieces here).
    expect(pieceList(tok, 'azzb')).toEqual(['▁', 'a', '<unk>', 'b']);
    expect(tok.decodeSync(tok.encodeSync('azzb'))).toBe('a<unk>b');
  });

  it('byte fallback spells unknown characters, fused, as their UTF-8 (WTF-8) bytes', () => {
    const tok = handMade([['▁', -3], ['a', -2]], true);
    expect(pieceList(tok, 'aé€a')).toEqual(['▁', 'a', '<0xC3>', '<0xA9>', '<0xE2>', '<0x82>', '<0xAC>', 'a']);
    expect(pieceList(tok, '\ud800')).toEqual(['▁', '<0xED>', '<0xA0>', '<0x80>']);
    expect(tok.decodeSync(tok.encodeSync('aé€a\ud800'))).toBe('aé€a\ud800');
    expect(tok.isByteFallback(tok.tokenToId('<0xC3>')!)).toBe(true);
    expect(tok.isByteFallback(tok.tokenToId('a')!)).toBe(false);
    // Bytes that are not UTF-8 decode to one U+FFFD each, as in `tokenizers`.
    expect(tok.decodeSync([tok.tokenToId('<0xFF>')!, tok.tokenToId('<0xC3>')!])).toBe('\ufffd\ufffd');
  });

  it('special tokens are plain text unless specialTokens is set', () => {
    const tok = handMade([['▁', -3], ['a', -2], ...'<|endoftext>'.split('').map((c): [string, number] => [c, -5])], true);
    const plain = tok.encodeSync('a<|endoftext|>a');
    expect([...plain]).not.toContain(tok.eot);
    expect(tok.decodeSync(plain)).toBe('a<|endoftext|>a');
    expect([...tok.encodeSync('a<|endoftext|>a', { specialTokens: true })]).toContain(tok.eot);
  });

  it('non-special added tokens are ordinary vocabulary, matched with or without specialTokens (as in BPE)', () => {
    const chars = [...'<nl>xa '].map((c): [string, number] => [c, -5]);
    const vocab: [string, number][] = [['<unk>', 0], ['<|endoftext|>', 0], ['<nl>', 0], ['▁', -3], ...chars];
    const tok = new UnigramTokenizer({
      vocab, unkId: 0, byteFallback: false,
      added: [
        { id: 0, content: '<unk>', special: true }, { id: 1, content: '<|endoftext|>', special: true },
        { id: 2, content: '<nl>', special: false, lstrip: true },
      ],
      normalizer: UNIGRAM_PIPELINE.normalizer, preTokenizer: UNIGRAM_PIPELINE.pre_tokenizer, decoder: UNIGRAM_PIPELINE.decoder,
    });
    for (const opts of [{}, { specialTokens: true }]) {
      // lstrip takes White_Space (U+0085 is; U+FEFF, which JavaScript's \s matches, is not).
      expect([...tok.encodeSync('a \u0085<nl>a', opts)]).toEqual([...tok.encodeSync('a', opts), 2, ...tok.encodeSync('a', opts)]);
      expect([...tok.encodeSync('a\ufeff<nl>', opts)]).toContain(tok.unkId);
      expect([...tok.encodeSync('x<nl>', opts)]).toContain(2);
    }
  });
});

describe('Unigram training', () => {
  it('E-step expected counts, likelihood and Viterbi counts equal a brute-force float64 enumeration', () => {
    const rng = new Rng('unigram estep');
    const alphabet = ['a', 'b', 'c', 'é', '😀'];
    const pieces = new Set<string>(alphabet);
    while (pieces.size < 25) {
      let p = '';
      for (let n = rng.int(2, 5); n > 0; n--) p += alphabet[rng.int(0, alphabet.length)];
      pieces.add(p);
    }
    const pieceArr = [...pieces];
    const scores = Array.from(pieceArr, () => rng.uniform(-6, -0.5));
    const words: string[] = [];
    const counts: number[] = [];
    for (let w = 0; w < 40; w++) {
      let s = '';
      for (let n = rng.int(1, 9); n > 0; n--) s += alphabet[rng.int(0, alphabet.length)];
      words.push(s);
      counts.push(rng.int(1, 50));
    }
    const { got, ref, pp } = eStepBoth(words, counts, pieceArr, scores);
    for (let k = 0; k < pieceArr.length; k++) {
      expect(got.expected[k]).toBeCloseTo(ref.expected[k]!, 9);
      expect(got.viterbi[k]).toBe(ref.viterbi[k]);
      expect(got.cover[k]).toBe(ref.cover[k]);
    }
    expect(got.logLikelihood).toBeCloseTo(ref.logLikelihood, 8);
    expect(got.viterbiTokens).toBe(ref.viterbiTokens);
    expect(got.wordCount).toBe(counts.reduce((a, b) => a + b, 0));
    expect(got.unsegmentable).toBe(0);

    // Alternatives: each multi-character piece's best segmentation without itself.
    const alt = native.unigramAlternatives(pp.chars, pp.offsets, Float64Array.from(scores));
    pieceArr.forEach((p, k) => {
      if ([...p].length === 1) return expect(alt.status[k]).toBe(-1);
      const b = bestAlternative(p, pieceArr, scores)!;
      expect(alt.status[k]).toBe(b.score > scores[k]! ? 0 : 1);
      if (alt.status[k] === 1) expect([...alt.ids.subarray(alt.offsets[k]!, alt.offsets[k + 1]!)]).toEqual(b.ids);
    });
  });

  it('words too long for the probability-space pass go through log space, with the same results', () => {
    // Per-character log weights from -450 (b) to -0.125 (abab): only words of up to 2 characters fit the
    // probability-space pass (e^-900 underflows), so these words of 3..12 take the log-space pass.
    const pieceArr = ['a', 'b', 'ab', 'ba', 'aab', 'abab'];
    const scores = [-400, -450, -1, -2, -3, -0.5];
    const rng = new Rng('unigram log space');
    const words: string[] = ['ab', 'ba'];
    while (words.length < 30) words.push(Array.from({ length: rng.int(3, 13) }, () => 'ab'[rng.int(0, 2)]).join(''));
    const counts = words.map(() => rng.int(1, 20));
    const { got, ref, pp } = eStepBoth(words, counts, pieceArr, scores);
    for (let k = 0; k < pieceArr.length; k++) {
      expect(got.expected[k]).toBeCloseTo(ref.expected[k]!, 9);
      expect(got.viterbi[k]).toBe(ref.viterbi[k]);
    }
    expect(got.logLikelihood / ref.logLikelihood).toBeCloseTo(1, 12);
  });

  it('the E-step and training give the same bits for any thread count', () => {
    const saved = numThreads();
    try {
      const texts = brownCorpus().filter((_, i) => i % 25 === 0).map((d) => d.text);
      // The E-step over a seed-sized piece set: every sum, bit for bit.
      const words = [...new Set(texts.join(' ').split(/\s+/))].filter((w) => w !== '').map((w) => `\u2581${w}`);
      const counts = Float64Array.from(words, (_, k) => 1 + (k % 7));
      const pieces = [...new Set(words.flatMap((w) => [...w].map((_, i) => w.slice(i, i + 1 + (i % 4)))))];
      const scores = Float64Array.from(pieces, (_, k) => -1 - (k % 13) / 3);
      const pw = packCodePoints(words, 'test');
      const pp = packCodePoints(pieces, 'test');
      const runs = [1, 2, 3].map((t) => {
        setNumThreads(t);
        return native.unigramEStep(pw.chars, pw.offsets, counts, pp.chars, pp.offsets, scores);
      });
      for (const r of runs.slice(1)) {
        expect(r.logLikelihood).toBe(runs[0]!.logLikelihood);
        expect([...r.expected]).toEqual([...runs[0]!.expected]);
        expect([...r.cover]).toEqual([...runs[0]!.cover]);
      }
      // A whole training: the tokenizer.json files are byte-identical.
      const json = [1, 2].map((t) => {
        setNumThreads(t);
        return trainUnigram(texts, { vocabSize: 2000 }).toJSONString();
      });
      expect(json[1]).toBe(json[0]);
    } finally {
      setNumThreads(saved);
    }
  }, 120_000);

  it('seed substrings are counted over the words, weighted by their counts', () => {
    const pw = packCodePoints(['abab', 'ba'], 'test');
    const r = native.unigramSubstrings(pw.chars, pw.offsets, Float64Array.of(3, 2), 3, 1, 100);
    const got = new Map<string, number>();
    for (let k = 0; k < r.word.length; k++) {
      const a = pw.offsets[r.word[k]!]! + r.start[k]!;
      got.set(String.fromCodePoint(...pw.chars.subarray(a, a + r.length[k]!)), r.count[k]!);
    }
    // abab x3: ab ×2, ba ×1, aba, bab; ba x2: ba.
    expect(Object.fromEntries(got)).toEqual({ ab: 6, ba: 5, aba: 3, bab: 3 });
    expect(r.length[0]! * r.count[0]!).toBeGreaterThanOrEqual(r.length[1]! * r.count[1]!);
  });

  it('digamma matches known values', () => {
    expect(digamma(1)).toBeCloseTo(-0.5772156649015329, 12);
    expect(digamma(0.5)).toBeCloseTo(-1.9635100260214235, 12);
    expect(digamma(10)).toBeCloseTo(2.251752589066721, 12);
  });

  it('a tiny corpus: frequent words become single pieces, the vocabulary has the documented layout', () => {
    const texts = [...Array(30).fill('hello hello world'), ...Array(10).fill('help the world'), 'held'];
    // Required: <unk> + 1 special + 256 bytes + 95 characters (printable ASCII and ▁; the corpus adds none) = 353.
    let report: UnigramTrainReport | undefined;
    const tok = trainUnigram(texts, { vocabSize: 357 }, (r) => (report = r));
    expect(tok.vocabSize).toBe(357);
    // The phases account for the whole training, each counted once.
    const phases = Object.values(report!.phaseSeconds);
    expect(phases).toHaveLength(5);
    for (const x of phases) expect(x).toBeGreaterThanOrEqual(0);
    expect(phases.reduce((x, y) => x + y, 0)).toBeLessThanOrEqual(report!.seconds + 1e-9);
    expect(tok.idToToken(0)).toBe('<unk>');
    expect(tok.idToToken(1)).toBe('<|endoftext|>');
    expect(tok.eot).toBe(1);
    expect(tok.idToToken(2)).toBe('<0x00>');
    expect(tok.idToToken(257)).toBe('<0xFF>');
    expect(pieceList(tok, 'hello world')).toEqual(['▁hello', '▁world']);
    const scores = tok.vocab().slice(258).map((e) => e[1]);
    expect(scores).toEqual([...scores].sort((a, b) => b - a)); // by descending score
    // Byte pieces score below 6 × the lowest piece: the text "<0x41>" is spelled with characters.
    expect(pieceList(tok, '<0x41>')).toEqual(['▁', '<', '0', 'x', '4', '1', '>']);
  });

  it('training splits words as the encoder does (a space or a newline starts a word)', () => {
    expect(unigramWords('a  b\nc ')).toEqual(['▁a', '▁', '▁b\n', '▁c', '▁']);
    expect(unigramWords('')).toEqual([]);
  });

  it('the end-of-document token is <|endoftext|> when listed, else the first special token (as trainBpe)', () => {
    const texts = ['hello world', 'the cat sat'];
    for (const [specials, eot] of [[['<pad>', '<|endoftext|>'], '<|endoftext|>'], [['<pad>', '</s>'], '<pad>']] as const) {
      const u = trainUnigram(texts, { vocabSize: 420, specialTokens: [...specials], minFrequency: 1 });
      const b = trainBpe(texts, { vocabSize: 300, specialTokens: [...specials], minFrequency: 1 });
      expect(u.eot).toBe(u.tokenToId(eot));
      expect(b.eot).toBe(b.tokenToId(eot));
    }
  });

  it('bad input gives clear errors', () => {
    expect(() => trainUnigram([], { vocabSize: 1000 })).toThrow(/corpus is empty/);
    expect(() => new UnigramTokenizer(null as never)).toThrow(/UnigramTokenizer.*parts must be an object/);
    expect(() => new UnigramTokenizer({ vocab: [['a', -1]], unkId: null, byteFallback: false } as never)).toThrow(/parts.added must be an array/);
    expect(() => trainUnigram([''], { vocabSize: 1000 })).toThrow(ValueError);
    expect(() => trainUnigram(['hello'], { vocabSize: 300 })).toThrow(/vocabSize 300 is smaller than the required pieces: <unk> \+ 1 special token\(s\) \+ 256 byte pieces \+ 95 characters = 353/);
    expect(() => trainUnigram(['hello 日本'], { vocabSize: 354 })).toThrow(/97 characters = 355/);
    expect(() => trainUnigram(['hello'], { vocabSize: 1.5 })).toThrow(/vocabSize must be an integer/);
    expect(() => trainUnigram(['hello'], { vocabSize: 400, specialTokens: [] })).toThrow(/at least one token/);
    expect(() => trainUnigram(['hello'], { vocabSize: 400, specialTokens: ['<0x41>'] })).toThrow(/byte-fallback/);
    expect(() => trainUnigram([3 as unknown as string], { vocabSize: 400 })).toThrow(/texts\[0\] must be a string/);
    expect(() => trainUnigram(['hello'], { vocabSize: 400, maxPieceLength: 0 })).toThrow(/maxPieceLength/);
    // The native passes check their arrays.
    const pw = packCodePoints(['ab'], 'test');
    expect(() => native.unigramEStep(pw.chars, Int32Array.of(0, 5), Float64Array.of(1), pw.chars, pw.offsets, Float64Array.of(-1))).toThrow(ValueError);
    expect(() => native.unigramEStep(pw.chars, pw.offsets, Float64Array.of(1), pw.chars, pw.offsets, Float64Array.of(NaN))).toThrow(/not finite/);
    expect(() => native.unigramEStep(pw.chars, pw.offsets, Float64Array.of(0), pw.chars, pw.offsets, Float64Array.of(-1))).toThrow(/positive/);
    expect(() => native.unigramAlternatives(Int32Array.of(97, 97), Int32Array.of(0, 1, 2), Float64Array.of(-1, -1))).toThrow(/repeats/);
  });
});

describe('Unigram on the Brown corpus', () => {
  let tok: UnigramTokenizer;
  let texts: string[];
  beforeAll(() => {
    texts = brownCorpus().map((d) => d.text);
    // Trained on a fifth of the corpus, so the rest holds unknown characters and rare words.
    tok = trainUnigram(texts.filter((_, i) => i % 5 === 0), { vocabSize: 3000 });
  }, 300_000);

  it('round-trips random strings (ASCII, CJK, emoji, whitespace runs, leading/trailing spaces, lone surrogates)', () => {
    const rng = new Rng('unigram round trip');
    for (let k = 0; k < 300; k++) {
      const s = randomString(rng, rng.int(0, 60));
      expect(tok.decodeSync(tok.encodeSync(s))).toBe(s);
    }
    for (const s of ['', ' ', '  ', '\n', ' \n ', 'a ', ' a', '\ud800', '\udfff\ud800x', 'x\n\n', '<0xFF>']) expect(tok.decodeSync(tok.encodeSync(s))).toBe(s);
    // U+2581 is the meta space: it decodes as a space, as in SentencePiece.
    expect(tok.decodeSync(tok.encodeSync('a\u2581b'))).toBe('a b');
  });

  it('round-trips the corpus and writes a tokenizer.json that loads back identically', () => {
    const path = join(tmp(), 'unigram.json');
    tok.save(path);
    expect(tok.spec).toMatchObject({ kind: 'file', path });
    const again = loadTokenizerFile(path);
    expect(again).toBeInstanceOf(UnigramTokenizer);
    expect(tokenizerFromSpec(tok.spec)).toBeInstanceOf(UnigramTokenizer);
    for (const t of texts.slice(0, 50)) {
      const ids = tok.encodeSync(t);
      expect(tok.decodeSync(ids)).toBe(t);
      expect((again as UnigramTokenizer).encodeSync(t)).toEqual(ids);
    }
  });

  itHf('encodes the WHOLE Brown corpus exactly as the tokenizers package does with our tokenizer.json', async () => {
    const h = hfTokenizer(tok.toJSONString());
    let tokens = 0;
    for (const t of texts) {
      const ours = [...tok.encodeSync(t, { specialTokens: true })];
      const theirs = (await h.encode(t, null, { addSpecialTokens: false })).getIds();
      expect(ours).toEqual(theirs);
      tokens += ours.length;
    }
    expect(tokens).toBeGreaterThan(1_000_000);
    expect(await h.decode([...tok.encodeSync(texts[7]!)], false)).toBe(texts[7]);
  }, 300_000);

  itHf('encodes random text as the tokenizers package does', async () => {
    const h = hfTokenizer(tok.toJSONString());
    const rng = new Rng('unigram vs tokenizers');
    for (let k = 0; k < 300; k++) {
      // The package's binding turns lone surrogates into U+FFFD on the way in; compare well-formed text.
      const s = randomString(rng, rng.int(0, 60)).replace(/\p{Surrogate}/gu, '');
      expect([...tok.encodeSync(s, { specialTokens: true })]).toEqual((await h.encode(s, null, { addSpecialTokens: false })).getIds());
      expect(tok.decodeSync(tok.encodeSync(s))).toBe(await h.decode([...tok.encodeSync(s)], false));
    }
  });
});

describe('Unigram tokenizer.json files', () => {
  it('a hand-written SentencePiece-style file loads and encodes as computed by hand', () => {
    const tok = loadTokenizerFile(FIXTURE) as UnigramTokenizer;
    expect(tok).toBeInstanceOf(UnigramTokenizer);
    expect(tok.vocabSize).toBe(19);
    expect(tok.eot).toBe(1); // </s>
    expect(tok.unkId).toBe(2);
    // "  " collapses (Replace), WhitespaceSplit, then Metaspace prepends ▁ to each word;
    // ▁cat|s (-7.5) beats ▁c|at|s (-14.5); ▁mat|. ; "dog" has no pieces: one fused <unk>.
    expect([...tok.encodeSync('the cats  sat on the mat.')]).toEqual([4, 5, 6, 7, 8, 4, 9, 14]);
    expect([...tok.encodeSync('the dog')]).toEqual([4, 3, 2]);
    expect(tok.decodeSync([4, 5, 6, 7, 8, 4, 9, 14])).toBe('the cats sat on the mat.');
    expect(tok.decodeSync([4, 3, 2])).toBe('the <unk>');
    expect([...tok.encodeSync('the</s>cat', { specialTokens: true })]).toEqual([4, 1, 5]);
    expect(tok.spec).toMatchObject({ kind: 'file', path: FIXTURE });
    // toJSON keeps the file's sections.
    const json = tok.toJSON();
    expect(json.pre_tokenizer).toEqual(JSON.parse(readFileSync(FIXTURE, 'utf8')).pre_tokenizer);
  });

  itHf('the fixture encodes the same through the tokenizers package', async () => {
    const h = hfTokenizer(readFileSync(FIXTURE, 'utf8'));
    const tok = loadTokenizerFile(FIXTURE) as UnigramTokenizer;
    for (const s of ['the cats  sat on the mat.', 'the dog', ' at  the  cat s.', 'hat</s>tea', '']) {
      const ids = [...tok.encodeSync(s, { specialTokens: true })];
      expect(ids).toEqual((await h.encode(s, null, { addSpecialTokens: false })).getIds());
      expect(tok.decodeSync(ids.filter((i) => i !== tok.eot))).toBe(await h.decode(ids.filter((i) => i !== tok.eot), false));
    }
  });

  it('unreadable, malformed and unsupported files give clear errors', () => {
    const dir = tmp();
    expect(() => loadTokenizerFile(join(dir, 'missing.json'))).toThrow(/cannot read tokenizer file/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"model": {"type": "Unigram", "vocab": [["a", -1]');
    expect(() => loadTokenizerFile(bad)).toThrow(/not valid JSON/);
    const obj = JSON.parse(readFileSync(FIXTURE, 'utf8'));
    const write = (o: unknown) => {
      writeFileSync(bad, JSON.stringify(o));
      return bad;
    };
    expect(() => loadTokenizerFile(write({ ...obj, model: { ...obj.model, vocab: [['a', 'x']] } }))).toThrow(/vocab\[0\] must be \[piece, finite score\]/);
    expect(() => loadTokenizerFile(write({ ...obj, model: { ...obj.model, unk_id: 99 } }))).toThrow(/unk_id 99/);
    expect(() => UnigramTokenizer.fromJSON({ ...obj, normalizer: { type: 'Precompiled', precompiled_charsmap: '' } })).toThrow(/"Precompiled" is not supported/);
    expect(() => UnigramTokenizer.fromJSON({ ...obj, decoder: { type: 'Sequence', decoders: [{ type: 'WordPiece' }] } })).toThrow(/"WordPiece" is not supported/);
    expect(() => UnigramTokenizer.fromJSON({ ...obj, added_tokens: [{ ...obj.added_tokens[0], single_word: true }] })).toThrow(/single_word/);
    // loadTokenizerFile hands such files to the tokenizers package (or says it is missing).
    const wp = write({ ...obj, decoder: { type: 'WordPiece', prefix: '##', cleanup: true } });
    if (hf) expect(loadTokenizerFile(wp)).toBeInstanceOf(HuggingFaceTokenizer);
    else expect(() => loadTokenizerFile(wp)).toThrow(/tokenizers/);
    expect(() => UnigramTokenizer.fromJSON({ model: { type: 'BPE' } })).toThrow(/not "Unigram"/);
    expect(() => UnigramTokenizer.fromJSON('nope')).toThrow(ValueError);
    const tok = loadTokenizerFile(FIXTURE) as UnigramTokenizer;
    expect(() => tok.decodeSync([19])).toThrow(/outside the vocabulary \[0, 19\)/);
    expect(() => tok.encodeSync(3 as unknown as string)).toThrow(/must be a string/);
    expect(() => tok.save(join(dir, 'no', 'such', 'dir.json'))).toThrow(/cannot write/);
  });
});
