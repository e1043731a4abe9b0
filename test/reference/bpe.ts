/**
 * Naive BPE references, written from the definitions and sharing no code with lib/data/bpe*.ts:
 *
 * - training: before every merge, count every adjacent pair of every word from scratch (weighted by the
 *   word's count), take the most frequent (ties: smaller left id, then smaller right id), and replace its
 *   occurrences left to right. Ids: `numSpecial` special tokens, then the 256 bytes, then new tokens; a
 *   merge whose bytes already exist reuses that id, one that spells a special token is skipped, and a
 *   pair is merged at most once (the rules documented in native/kernels/bpe.h).
 * - encoding: GPT-2's original loop: while some adjacent pair has a merge, take the lowest-ranked one and
 *   replace all its occurrences left to right.
 */

export interface RefMerge {
  left: number;
  right: number;
  result: number;
}

const key = (bytes: number[]) => bytes.join(',');

/** words: [bytes, count]; specialBytes: the bytes each special token stands for. */
export function referenceTrainBpe(
  words: [number[], number][], specialBytes: number[][], vocabSize: number, minFrequency: number,
): { merges: RefMerge[]; tokens: number[][] } {
  const ns = specialBytes.length;
  const tokens: number[][] = [...specialBytes, ...Array.from({ length: 256 }, (_, b) => [b])];
  const byKey = new Map(tokens.map((t, id) => [key(t), id]));
  const ws = words.map(([b, c]) => ({ syms: b.map((x) => ns + x), count: c }));
  const merges: RefMerge[] = [];
  const done = new Set<string>();
  while (tokens.length < vocabSize) {
    const counts = new Map<string, number>();
    for (const w of ws)
      for (let i = 0; i + 1 < w.syms.length; i++) {
        const k = `${w.syms[i]} ${w.syms[i + 1]}`;
        counts.set(k, (counts.get(k) ?? 0) + w.count);
      }
    let best: [number, number, number] | null = null;
    for (const [k, c] of counts) {
      if (done.has(k)) continue;
      const [a, b] = k.split(' ').map(Number) as [number, number];
      if (best === null || c > best[2] || (c === best[2] && (a < best[0] || (a === best[0] && b < best[1])))) best = [a, b, c];
    }
    if (best === null || best[2] < minFrequency) break;
    const [a, b] = best;
    done.add(`${a} ${b}`);
    const bytes = [...tokens[a]!, ...tokens[b]!];
    let c = byKey.get(key(bytes));
    if (c !== undefined && c < ns) continue; // would spell a special token
    if (c === undefined) {
      c = tokens.length;
      tokens.push(bytes);
      byKey.set(key(bytes), c);
    }
    merges.push({ left: a, right: b, result: c });
    for (const w of ws) {
      const out: number[] = [];
      for (let i = 0; i < w.syms.length; i++) {
        if (i + 1 < w.syms.length && w.syms[i] === a && w.syms[i + 1] === b) {
          out.push(c);
          i++;
        } else out.push(w.syms[i]!);
      }
      w.syms = out;
    }
  }
  return { merges, tokens };
}

/** GPT-2's encoding loop over one piece's symbols. rank: "left right" -> [rank, result]. */
export function referenceEncodePiece(symbols: number[], rank: Map<string, [number, number]>): number[] {
  let syms = symbols.slice();
  for (;;) {
    let best: [number, number, number] | null = null; // rank, left, right
    for (let i = 0; i + 1 < syms.length; i++) {
      const r = rank.get(`${syms[i]} ${syms[i + 1]}`);
      if (r !== undefined && (best === null || r[0] < best[0])) best = [r[0], syms[i]!, syms[i + 1]!];
    }
    if (best === null) return syms;
    const result = rank.get(`${best[1]} ${best[2]}`)![1];
    const out: number[] = [];
    for (let i = 0; i < syms.length; i++) {
      if (i + 1 < syms.length && syms[i] === best[1] && syms[i + 1] === best[2]) {
        out.push(result);
        i++;
      } else out.push(syms[i]!);
    }
    syms = out;
  }
}
