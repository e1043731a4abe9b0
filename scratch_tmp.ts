import * as lm from './lib/index.js';
import { philox4x32, refRand, refRandn } from './test/reference/philox.js';
const hex = (a: number[]) => a.map((x) => x.toString(16).padStart(8, '0')).join(' ');
console.log(hex(philox4x32([0,0,0,0],[0,0])));
console.log(hex(philox4x32([0xffffffff,0xffffffff,0xffffffff,0xffffffff],[0xffffffff,0xffffffff])));
console.log(hex(philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],[0xa4093822, 0x299f31d0])));
const n = 200003;
for (const seed of [0, 1, 12345, 2**40 + 77]) {
  const a = lm.rand([n], { seed }).dataSync(); const r = refRand(n, seed, 0);
  let bad = 0; for (let i = 0; i < n; i++) if (a[i] !== r[i]) bad++;
  const b = lm.randn([n], { seed }).dataSync(); const rn = refRandn(n, seed, 0);
  let badn = 0, maxd = 0; for (let i = 0; i < n; i++) if (b[i] !== rn[i]) { badn++; maxd = Math.max(maxd, Math.abs(b[i]-rn[i])/Math.abs(rn[i])); }
  const c = lm.rand([n], { seed, low: -2.5, high: 7.3 }).dataSync(); const rc = refRand(n, seed, 0, -2.5, 7.3);
  let badc = 0; for (let i = 0; i < n; i++) if (c[i] !== rc[i]) badc++;
  const d = lm.randn([n], { seed, mean: 1.5, std: 0.3 }).dataSync(); const rd = refRandn(n, seed, 0, 1.5, 0.3);
  let badd = 0; for (let i = 0; i < n; i++) if (d[i] !== rd[i]) badd++;
  console.log(seed, bad, badn, maxd, badc, badd);
}
