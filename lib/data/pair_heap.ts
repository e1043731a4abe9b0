/**
 * A binary min-heap of (rank, position) pairs for BPE encoding of long pieces (bpe.ts #mergeHeap): a
 * typed-array heap, since a run of thousands of spaces pushes an entry per merge and re-push.
 */
export /** A binary min-heap of (rank, position) pairs, ordered by rank then position. */
class PairHeap {
  #rank: Int32Array;
  #pos: Int32Array;
  size = 0;
  constructor(capacity: number) {
    this.#rank = new Int32Array(Math.max(4, capacity));
    this.#pos = new Int32Array(Math.max(4, capacity));
  }
  #less(i: number, j: number): boolean {
    const a = this.#rank[i]!;
    const b = this.#rank[j]!;
    return a < b || (a === b && this.#pos[i]! < this.#pos[j]!);
  }
  #swap(i: number, j: number): void {
    const r = this.#rank[i]!;
    const p = this.#pos[i]!;
    this.#rank[i] = this.#rank[j]!;
    this.#pos[i] = this.#pos[j]!;
    this.#rank[j] = r;
    this.#pos[j] = p;
  }
  push(rank: number, pos: number): void {
    if (this.size === this.#rank.length) {
      const r = new Int32Array(this.size * 2);
      r.set(this.#rank);
      this.#rank = r;
      const p = new Int32Array(this.size * 2);
      p.set(this.#pos);
      this.#pos = p;
    }
    let i = this.size++;
    this.#rank[i] = rank;
    this.#pos[i] = pos;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(i, parent)) break;
      this.#swap(i, parent);
      i = parent;
    }
  }
  topRank(): number {
    return this.#rank[0]!;
  }
  pop(): number {
    const top = this.#pos[0]!;
    this.size--;
    if (this.size > 0) {
      this.#rank[0] = this.#rank[this.size]!;
      this.#pos[0] = this.#pos[this.size]!;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.size && this.#less(l, m)) m = l;
        if (r < this.size && this.#less(r, m)) m = r;
        if (m === i) break;
        this.#swap(i, m);
        i = m;
      }
    }
    return top;
  }
}
