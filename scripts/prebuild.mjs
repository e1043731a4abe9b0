// Builds the CPU prebuild that the package ships: prebuilds/<platform>-<arch>/lmforge.glibc.node (N-API, so
// one binary serves every Node >= 20), with prebuildify and binding.gyp's portable flags (no -march: the
// AVX2 / AVX-512 / AVX512-BF16 kernels are picked at run time). node-gyp-build loads it.
//
//   npm run build:prebuild                     build it
//   npm run build:prebuild -- --if-stale       only if the sources changed since the last build (prepack)
//   npm run build:prebuild -- --arch arm64     cross-compile (CC/CXX default to Debian's aarch64-linux-gnu-gcc/g++)
//
// prebuildify runs `node-gyp rebuild`, which deletes build/: it runs on a copy of the sources in a temporary
// folder so that the checkout's own build (build/Release, the CMake folders) is left alone.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const ifStale = args.includes('--if-stale');
const archFlag = args.indexOf('--arch');
const arch = archFlag >= 0 ? args[archFlag + 1] : process.arch;
const cross = arch !== process.arch;
const outDir = join(root, 'prebuilds', `${process.platform}-${arch}`);
// What the binary is made of: a change to any of these makes the prebuild stale.
const INPUTS = ['binding.gyp', 'scripts/sources.mjs', 'native'];

function files(rel) {
  const abs = join(root, rel);
  if (!statSync(abs).isDirectory()) return [rel];
  return readdirSync(abs, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(root, join(d.parentPath ?? d.path, d.name)))
    .sort();
}

function sourceHash(arch) {
  const h = createHash('sha256');
  h.update(`${arch} node-addon-api ${require('node-addon-api/package.json').version}\n`);
  for (const f of INPUTS.flatMap(files)) h.update(`${f}\n`).update(readFileSync(join(root, f)));
  return h.digest('hex');
}

/** Whether the prebuild in dir was built from the current sources (its stamp, written below). */
function stamped(dir, a) {
  const stamp = join(dir, 'lmforge.sources.sha256');
  return existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === sourceHash(a);
}
const hash = sourceHash(arch);
if (ifStale) {
  // A cross-compiled prebuild (another arch) cannot be rebuilt here: a stale one must not be packed.
  for (const d of existsSync(join(root, 'prebuilds')) ? readdirSync(join(root, 'prebuilds')) : []) {
    const a = d.split('-').pop();
    if (a !== arch && !stamped(join(root, 'prebuilds', d), a))
      throw new Error(`prebuilds/${d} predates the sources: rebuild it (npm run build:prebuild -- --arch ${a}) or delete it`);
  }
  const built = existsSync(outDir) && readdirSync(outDir).some((f) => f.endsWith('.node'));
  if (built && stamped(outDir, arch)) {
    console.error(`prebuild: ${relative(root, outDir)} is up to date`);
    process.exit(0);
  }
}

const stage = mkdtempSync(join(tmpdir(), 'lmforge-prebuild-'));
try {
  for (const f of [...INPUTS, 'package.json']) cpSync(join(root, f), join(stage, f), { recursive: true });
  // binding.gyp asks node-addon-api for its headers from the staged folder.
  symlinkSync(join(root, 'node_modules'), join(stage, 'node_modules'), 'dir');
  const env = { JOBS: 'max', ...process.env };
  // npm puts its node-gyp and its configuration (nodedir: where the Node headers are) in the environment.
  env.PREBUILD_NODE_GYP ??= env.npm_config_node_gyp;
  if (!env.PREBUILD_NODE_GYP) throw new Error('node-gyp not found: run this through npm (npm run build:prebuild)');
  if (cross && arch === 'arm64') {
    env.CC ??= 'aarch64-linux-gnu-gcc';
    env.CXX ??= 'aarch64-linux-gnu-g++';
  }
  if (cross && !env.CXX) throw new Error(`cross-compiling for ${arch} needs CC and CXX set to its compilers`);
  const start = Date.now();
  const bin = join(dirname(require.resolve('prebuildify/package.json')), 'bin.js');
  // The Node version only picks the headers (npm's nodedir or node-gyp's cache): with N-API the binary does
  // not depend on it. --tag-libc: a glibc binary must not be offered to a musl system (it builds from source).
  const argv = [bin, '--napi', '--strip', '--tag-libc', '--target', `node@${process.versions.node}`, '--arch', arch, '--out', stage];
  if (cross) env.PREBUILD_STRIP_BIN ??= `${env.CXX.replace(/g\+\+$/, '')}strip`;
  const r = spawnSync(process.execPath, argv, { cwd: stage, env, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`prebuildify failed (status ${r.status ?? r.signal})`);
  const staged = join(stage, 'prebuilds', `${process.platform}-${arch}`);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  cpSync(staged, outDir, { recursive: true });
  writeFileSync(join(outDir, 'lmforge.sources.sha256'), `${hash}\n`);
  const made = readdirSync(outDir).filter((f) => f.endsWith('.node'));
  console.error(`prebuild: ${made.map((f) => relative(root, join(outDir, f))).join(', ')} in ${((Date.now() - start) / 1000).toFixed(0)} s`);
} finally {
  rmSync(stage, { recursive: true, force: true });
}
