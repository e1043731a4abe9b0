/**
 * Brute-force float64 references for the Unigram lattice passes: every segmentation of a short word is
 * enumerated, so expected counts, the likelihood and the best path follow from the definitions
 * (Kudo 2018: P(segmentation) ∝ Π p(piece)), with no forward-backward or dynamic programming.
 */

/** All segmentations of `word` (arrays of characters) into pieces of `vocab`, as lists of piece ids. */
export function allSegmentations(word: string[], vocab: Map<string, number>): number[][] {
  const out: number[][] = [];
  const walk = (at: number, path: number[]) => {
    if (at === word.length) {
      out.push([...path]);
      return;
    }
    for (let end = at + 1; end <= word.length; end++) {
      const id = vocab.get(word.slice(at, end).join(''));
      if (id === undefined) continue;
      path.push(id);
      walk(end, path);
      path.pop();
    }
  };
  walk(0, []);
  return out;
}

export interface EStepReference {
  expected: Float64Array;
  viterbi: Float64Array;
  cover: Float64Array;
  logLikelihood: number;
  viterbiTokens: number;
}

/**
 * Expected piece counts over words (each seen counts[w] times) by enumerating segmentations, the
 * log-likelihood Σ count·log Σ_seg exp(score(seg)), and the best segmentation's counts (scores must not
 * tie for the best path: the reference does not model tie-breaking).
 */
export function eStepReference(words: string[], counts: number[], pieces: string[], scores: number[]): EStepReference {
  const vocab = new Map(pieces.map((p, i) => [p, i]));
  const P = pieces.length;
  const r: EStepReference = {
    expected: new Float64Array(P), viterbi: new Float64Array(P), cover: new Float64Array(P), logLikelihood: 0, viterbiTokens: 0,
  };
  words.forEach((w, k) => {
    const segs = allSegmentations([...w], vocab);
    if (segs.length === 0) return;
    const logp = segs.map((s) => s.reduce((acc, id) => acc + scores[id]!, 0));
    const m = Math.max(...logp);
    const Z = logp.reduce((acc, x) => acc + Math.exp(x - m), 0);
    r.logLikelihood += counts[k]! * (m + Math.log(Z));
    segs.forEach((s, j) => {
      const p = Math.exp(logp[j]! - m) / Z;
      for (const id of s) r.expected[id] += counts[k]! * p;
    });
    const best = segs[logp.indexOf(m)]!;
    for (const id of best) r.viterbi[id] += counts[k]!;
    for (const id of new Set(best)) r.cover[id] += counts[k]!;
    r.viterbiTokens += counts[k]! * best.length;
  });
  return r;
}

/** The best segmentation of a piece that does not use the piece itself whole, with its score (null if none). */
export function bestAlternative(piece: string, pieces: string[], scores: number[]): { ids: number[]; score: number } | null {
  const self = pieces.indexOf(piece);
  const vocab = new Map(pieces.map((p, i) => [p, i]));
  let best: { ids: number[]; score: number } | null = null;
  for (const s of allSegmentations([...piece], vocab)) {
    if (s.length === 1 && s[0] === self) continue;
    const score = s.reduce((acc, id) => acc + scores[id]!, 0);
    if (best === null || score > best.score) best = { ids: s, score };
  }
  return best;
}
