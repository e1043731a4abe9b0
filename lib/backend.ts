/**
 * Which native binary lmforge runs on, and why. Two can be installed: the CPU addon of this package (built
 * from source in build/, or the prebuild in prebuilds/<platform>-<arch>/, found by node-gyp-build) and the
 * CUDA addon of the optional platform package CUDA_PACKAGE (packages/cuda-linux-x64 in the repository). The
 * CUDA addon is taken when it is installed and a driver and a GPU answer; otherwise the CPU addon, and
 * backendInfo() says why. LMFORGE_BACKEND=cpu skips the CUDA addon; LMFORGE_BACKEND=cuda makes its absence
 * an error instead of a fallback.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

import { DeviceError, NativeError } from './errors.js';

/** The npm package that holds the CUDA addon for this platform (there is one, for linux-x64). */
export const CUDA_PACKAGE = '@lmforge/cuda-linux-x64';

/** What backendInfo() reports. */
export interface BackendInfo {
  /** 'cuda' when the loaded binary has CUDA and a GPU answers, else 'cpu'. */
  backend: 'cpu' | 'cuda';
  /** The .node file that was loaded. */
  path: string;
  /** 'prebuilt' (prebuilds/ or a platform package) or 'source' (built on this machine, in build/). */
  origin: 'prebuilt' | 'source';
  /** The package the binary came from: 'lmforge' or CUDA_PACKAGE. */
  package: string;
  /** The CPU kernel tier in use (avx512, avx2, neon or scalar), chosen at run time from cpuid. */
  cpuTier: string;
  /** GPU code in the binary, e.g. ['sm_80', 'sm_86', 'sm_89', 'sm_90', 'compute_90']; [] without CUDA. */
  cudaArchs: string[];
  /** Why this binary: the GPU that answered, or why the CUDA addon was not used. */
  reason: string;
  /** True when the CUDA package is installed but the CPU addon runs instead (reason says why). */
  fallback: boolean;
}

interface Raw {
  cpuFeatures(): { tier: string };
  cudaAvailable(): { available: boolean; reason: string; name?: string; computeCapability?: number };
  buildInfo(): { cudaArchs?: string };
}

interface Loaded {
  addon: Record<string, unknown>;
  path: string;
  package: string;
  reason: string;
  fallback: boolean;
}

let loaded: Loaded | undefined;

// lib/ in a checkout and dist/ in the package both sit one level below the package root.
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

const REBUILD =
  'Reinstall lmforge (npm install lmforge), or build the addon from source: npm rebuild lmforge --build-from-source ' +
  '(needs a C++17 compiler, make and Python 3)';

function message(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!.trim();
}

/**
 * Why an ELF file cannot be a complete shared library ('' when it may be). dlopen of a truncated one (an
 * interrupted download or copy) maps pages past the end of the file and the process dies of SIGBUS before
 * any error can be thrown, so the ends of the program segments and of the section table are checked first.
 */
function truncation(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    return message(e);
  }
  try {
    const size = fstatSync(fd).size;
    const h = Buffer.alloc(64);
    readSync(fd, h, 0, 64, 0);
    // Only 64-bit little-endian ELF (linux-x64, linux-arm64) is checked; other formats go to the loader as they are.
    if (h.readUInt32BE(0) !== 0x7f454c46 || h[4] !== 2 || h[5] !== 1) return '';
    const short = (end: bigint, what: string) => (end > BigInt(size) ? `truncated: ${what} ends at byte ${end}, the file has ${size}` : '');
    const shEnd = h.readBigUInt64LE(0x28) + BigInt(h.readUInt16LE(0x3a) * h.readUInt16LE(0x3c));
    const phoff = h.readBigUInt64LE(0x20);
    const phentsize = h.readUInt16LE(0x36);
    const phnum = h.readUInt16LE(0x38);
    const tableProblem = short(shEnd, 'the section table') || short(phoff + BigInt(phentsize * phnum), 'the program headers');
    if (tableProblem) return tableProblem;
    const ph = Buffer.alloc(phentsize * phnum);
    readSync(fd, ph, 0, ph.length, Number(phoff));
    for (let i = 0; i < phnum; i++) {
      const e = ph.subarray(i * phentsize);
      const problem = short(e.readBigUInt64LE(8) + e.readBigUInt64LE(32), `segment ${i}`);
      if (problem) return problem;
    }
    return '';
  } finally {
    closeSync(fd);
  }
}

/** require() of an addon, refusing a truncated file (see truncation()). */
function requireAddon(path: string): Record<string, unknown> {
  const problem = truncation(path);
  if (problem) throw new Error(problem);
  return require(path) as Record<string, unknown>;
}

/** The CUDA package's folder and version when it is installed, else undefined. */
function cudaPackage(): { dir: string; version: string } | undefined {
  let pkg: string;
  try {
    pkg = require.resolve(`${CUDA_PACKAGE}/package.json`);
  } catch {
    return undefined;
  }
  return { dir: dirname(pkg), version: (require(pkg) as { version: string }).version };
}

/** Loads the CPU addon (build/Release, else the prebuild), with one clear error when there is none that loads. */
function loadCpu(): { addon: Record<string, unknown>; path: string } {
  const gypBuild = require('node-gyp-build') as { resolve(dir: string): string };
  let path: string;
  try {
    path = gypBuild.resolve(root);
  } catch {
    throw new NativeError(
      'lmforge',
      `no native addon for ${process.platform}-${process.arch} (no prebuilt binary in prebuilds/${process.platform}-${process.arch}/ ` +
        `and no build in build/Release/). ${REBUILD}.`,
    );
  }
  try {
    return { addon: requireAddon(path), path };
  } catch (e) {
    throw new NativeError('lmforge', `the native addon ${path} does not load (${message(e)}). ${REBUILD}.`);
  }
}

/** Picks and loads the addon (once); lib/native.ts wraps what this returns. */
export function loadAddon(): Record<string, unknown> {
  if (loaded) return loaded.addon;
  const want = process.env.LMFORGE_BACKEND ?? '';
  if (!['', 'cpu', 'cuda'].includes(want)) throw new DeviceError('lmforge', `LMFORGE_BACKEND must be cpu or cuda, got '${want}'`);
  let why = 'LMFORGE_BACKEND=cpu';
  // True when the CUDA package is installed but not used: the CPU addon then runs as a fallback.
  let skipped = false;
  if (want !== 'cpu') {
    const linuxX64 = process.platform === 'linux' && process.arch === 'x64';
    const pkg = linuxX64 ? cudaPackage() : undefined;
    // The two addons must come from the same release: the JS side calls the native functions of its own.
    const version = (require(join(root, 'package.json')) as { version: string }).version;
    skipped = pkg !== undefined;
    if (pkg === undefined) {
      why = linuxX64 ? `${CUDA_PACKAGE} is not installed` : `no CUDA addon is built for ${process.platform}-${process.arch}`;
    } else if (pkg.version !== version) {
      why = `${CUDA_PACKAGE} is installed at version ${pkg.version} but lmforge at ${version} (install ${CUDA_PACKAGE}@${version})`;
    } else {
      const path = join(pkg.dir, 'lmforge.node');
      try {
        const addon = requireAddon(path);
        const cuda = (addon as unknown as Raw).cudaAvailable();
        if (cuda.available) {
          loaded = { addon, path, package: CUDA_PACKAGE, reason: `CUDA device ${cuda.name} (sm_${cuda.computeCapability})`, fallback: false };
          return addon;
        }
        why = `${CUDA_PACKAGE} is installed but CUDA is unavailable: ${cuda.reason}`;
      } catch (e) {
        why = `${CUDA_PACKAGE} is installed but its addon does not load: ${message(e)}`;
      }
    }
  }
  const cpu = loadCpu();
  // A CUDA build from source (CMake) lands in build/Release too: then the CPU addon has CUDA after all.
  const cuda = (cpu.addon as unknown as Raw).cudaAvailable();
  if (want === 'cuda' && !cuda.available) throw new DeviceError('lmforge', `LMFORGE_BACKEND=cuda, but ${why}`);
  const reason = cuda.available ? `CUDA device ${cuda.name} (sm_${cuda.computeCapability}) in a source build` : why;
  loaded = { ...cpu, package: 'lmforge', reason, fallback: skipped && !cuda.available };
  return cpu.addon;
}

/** CMake's architecture list ("80-real;90") as the GPU code it puts in the binary (sm_80, sm_90, compute_90). */
function archNames(list: string): string[] {
  return list
    .split(/[;,]/)
    .filter(Boolean)
    .flatMap((a) => {
      const [n, kind] = a.split('-');
      return kind === 'real' ? [`sm_${n}`] : kind === 'virtual' ? [`compute_${n}`] : [`sm_${n}`, `compute_${n}`];
    });
}

/** Which native binary is running, from where, with which CPU tier and GPU code, and why it was chosen. */
export function backendInfo(): BackendInfo {
  loadAddon();
  const l = loaded!;
  const raw = l.addon as unknown as Raw;
  const cuda = raw.cudaAvailable();
  const fromBuild = relative(join(root, 'build'), l.path);
  const inBuild = !fromBuild.startsWith('..') && !isAbsolute(fromBuild);
  return {
    backend: cuda.available ? 'cuda' : 'cpu',
    path: l.path,
    origin: l.package === 'lmforge' && inBuild ? 'source' : 'prebuilt',
    package: l.package,
    cpuTier: raw.cpuFeatures().tier,
    cudaArchs: archNames(raw.buildInfo().cudaArchs ?? ''),
    reason: l.reason,
    fallback: l.fallback,
  };
}
