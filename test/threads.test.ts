// Elementwise kernels cut long rows into pieces so that few-row tensors use every thread; results must not
// depend on the thread count.
import { expect, it } from 'vitest';
import { add, randn, setNumThreads } from '../lib/index.js';
it('long rows split across threads give the same result', () => {
  const a = randn([1, 100003], { seed: 5 }), b = randn([1, 1], { seed: 6 }), c = randn([100003], { seed: 7 });
  setNumThreads(1);
  const r1 = [add(a, b).dataSync(), a.exp().dataSync(), add(a, c).dataSync(), a.T.contiguous().dataSync()];
  setNumThreads(2);
  const r2 = [add(a, b).dataSync(), a.exp().dataSync(), add(a, c).dataSync(), a.T.contiguous().dataSync()];
  for (let i = 0; i < 4; i++) expect(Buffer.from(r1[i]!.buffer).equals(Buffer.from(r2[i]!.buffer))).toBe(true);
  const av = a.dataSync(), bv = b.dataSync(), s = add(a, b).dataSync();
  for (let i = 0; i < av.length; i++) expect(s[i]).toBe(Math.fround(av[i]! + bv[0]!));
});
