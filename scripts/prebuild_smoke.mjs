// Smoke test of an lmforge build, small enough to run under CPU emulation (qemu-user): loads the addon,
// checks a matmul against plain JS, attention forward and backward, 5 training steps of a tiny GPT, and one
// step of every optimizer. Prints the backend line and "smoke ok"; exits non-zero on any failure.
//
//   node scripts/prebuild_smoke.mjs [PACKAGE_DIR]     PACKAGE_DIR: an installed lmforge (default: this checkout)
//
// scripts/prebuild_qemu.sh runs it under qemu-x86_64 with CPU models that lack AVX-512 and AVX.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dir = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
const lm = await import(pathToFileURL(join(dir, 'dist', 'index.js')).href);

function check(cond, what) {
  if (!cond) throw new Error(`smoke: ${what}`);
}

const b = lm.backendInfo();
console.log(`backend: ${b.backend}, ${b.origin} ${b.path}, tier ${b.cpuTier} (${b.reason})`);
if (process.env.LMF_SMOKE_TIER) check(b.cpuTier === process.env.LMF_SMOKE_TIER, `tier ${b.cpuTier}, expected ${process.env.LMF_SMOKE_TIER}`);

// matmul against a JS triple loop, in float32 and bfloat16 (each has its own kernels per tier)
const M = 17, K = 33, N = 19;
const a = lm.randn([M, K], { seed: 1 });
const w = lm.randn([K, N], { seed: 2 });
const [av, wv, cv] = [a.dataSync(), w.dataSync(), lm.matmul(a, w).dataSync()];
let err = 0;
for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
  let s = 0;
  for (let k = 0; k < K; k++) s += av[i * K + k] * wv[k * N + j];
  err = Math.max(err, Math.abs(s - cv[i * N + j]));
}
check(err < 1e-4, `float32 matmul off by ${err}`);
const bf = lm.matmul(a.astype('bfloat16'), w.astype('bfloat16')).astype('float32').dataSync();
check(bf.every((x, i) => Math.abs(x - cv[i]) < 0.1 * (1 + Math.abs(cv[i]))), 'bfloat16 matmul');

// attention, forward and backward, causal with grouped-query heads
const q = lm.randn([1, 4, 16, 8], { seed: 3 }).setRequiresGrad();
const kv = lm.randn([1, 2, 16, 8], { seed: 4 });
const att = lm.attention(q, kv, kv, { causal: true });
att.sum().backward();
check([...att.dataSync(), ...q.grad.dataSync()].every(Number.isFinite), 'attention is not finite');

// 5 training steps of a tiny GPT: the loss must fall
const model = new lm.GPT({ vocabSize: 64, seqLen: 16, layers: 1, dim: 32, heads: 2, position: 'rope', activation: 'swiglu', norm: 'rmsnorm' });
const x = lm.tensor(new Int32Array(32).map((_, i) => (i * 7) % 64), [2, 16]);
const y = lm.tensor(new Int32Array(32).map((_, i) => (i * 7 + 7) % 64), [2, 16]);
const loss = (opt) => lm.tidy(() => {
  const { loss: l } = model.forward(x, y);
  l.backward();
  const v = l.item();
  if (opt.wantsHessian?.()) opt.updateHessian(lm.gnbHessian(opt.params, () => model.forward(x).logits));
  opt.step();
  opt.zeroGrad();
  return v;
});
const adamw = new lm.AdamW(model.parameters(), { lr: 1e-2 });
const losses = Array.from({ length: 5 }, () => loss(adamw));
check(losses.every(Number.isFinite) && losses[4] < losses[0], `training losses ${losses.map((l) => l.toFixed(3)).join(' ')}`);

// one step of every optimizer (each has per-tier kernels); 8-bit Adam quantizes every tensor here
const optimizers = {
  SGD: (p) => new lm.SGD(p, { lr: 1e-2, momentum: 0.9 }),
  Adam: (p) => new lm.Adam(p, { lr: 1e-3 }),
  AdamW: (p) => new lm.AdamW(p, { lr: 1e-3 }),
  Adam8bit: (p) => new lm.Adam8bit(p, { lr: 1e-3, minSize8bit: 1 }),
  AdamW8bit: (p) => new lm.AdamW8bit(p, { lr: 1e-3, minSize8bit: 1 }),
  Lion: (p) => new lm.Lion(p, { lr: 1e-4 }),
  SophiaG: (p) => new lm.SophiaG(p, { lr: 1e-4, hessianInterval: 1 }),
};
for (const [name, make] of Object.entries(optimizers)) {
  const l = loss(make(model.parameters()));
  check(Number.isFinite(l), `${name}: loss ${l}`);
  check(model.parameters().every((p) => p.dataSync().every(Number.isFinite)), `${name}: parameters not finite`);
}
console.log(`losses ${losses.map((l) => l.toFixed(3)).join(' ')}; optimizers ${Object.keys(optimizers).join(' ')}`);
console.log('smoke ok');
