// The package as a consumer gets it: which addon loads from where (lib/backend.ts), the errors when none
// does, require() from CommonJS, and the published .d.ts in strict consumer projects without @types/node
// (test/fixtures/consumer). The library is compiled once into a temporary folder (JS and .d.ts, as dist/
// is) and laid out as node_modules/lmforge of small temporary projects, each with its own binaries.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { cpuInfo } from '../lib/index.js';
import { lmforge } from './cli_run.js';

const repo = process.cwd();
const require = createRequire(import.meta.url);
const TSC = require.resolve('typescript/bin/tsc');
const ADDON = join(repo, 'build', 'Release', 'lmforge.node');
const PLATFORM = `${process.platform}-${process.arch}`;
const VERSION = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;
const linuxX64 = PLATFORM === 'linux-x64';

let tmp: string;
let dist: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'lmf-package-'));
  dist = join(tmp, 'dist');
  // Emits even when some other file of the tree does not typecheck yet: the test needs the output only.
  spawnSync(process.execPath, [TSC, '-p', 'tsconfig.build.json', '--outDir', dist, '--sourceMap', 'false', '--declarationMap', 'false'], {
    cwd: repo,
  });
  expect(existsSync(join(dist, 'index.js')) && existsSync(join(dist, 'index.d.ts'))).toBe(true);
}, 120_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

interface Layout {
  /** Files of node_modules/lmforge (relative path -> contents or a file to copy). */
  files?: Record<string, { copy: string } | string | Buffer>;
  /** The CUDA package: its version and its lmforge.node. */
  cuda?: { version: string; addon: { copy: string } | Buffer };
}

let projects = 0;
/** A consumer project whose node_modules/lmforge is the compiled library plus the given files. */
function project(layout: Layout): string {
  const dir = join(tmp, `project-${projects++}`);
  const pkg = join(dir, 'node_modules', 'lmforge');
  mkdirSync(pkg, { recursive: true });
  cpSync(dist, join(pkg, 'dist'), { recursive: true });
  copyFileSync(join(repo, 'package.json'), join(pkg, 'package.json'));
  symlinkSync(join(repo, 'node_modules', 'node-gyp-build'), join(dir, 'node_modules', 'node-gyp-build'), 'dir');
  const put = (path: string, content: { copy: string } | string | Buffer) => {
    mkdirSync(join(path, '..'), { recursive: true });
    if (typeof content === 'string' || Buffer.isBuffer(content)) writeFileSync(path, content);
    else copyFileSync(content.copy, path);
  };
  for (const [rel, content] of Object.entries(layout.files ?? {})) put(join(pkg, rel), content);
  if (layout.cuda) {
    const cudaDir = join(dir, 'node_modules', '@lmforge', 'cuda-linux-x64');
    put(join(cudaDir, 'package.json'), JSON.stringify({ name: '@lmforge/cuda-linux-x64', version: layout.cuda.version }));
    put(join(cudaDir, 'lmforge.node'), layout.cuda.addon);
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  return dir;
}

/** Runs `code` (ESM) in a fresh Node in the project. */
function node(dir: string, code: string, env: Record<string, string> = {}, flags: string[] = []) {
  const { LMFORGE_BACKEND: _, ...rest } = process.env;
  const r = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', code], { cwd: dir, env: { ...rest, ...env }, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const INFO = "import { backendInfo } from 'lmforge'; console.log(JSON.stringify(backendInfo()));";

function info(dir: string, env: Record<string, string> = {}) {
  const r = node(dir, INFO, env);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as import('../lib/backend.js').BackendInfo;
}

/** The first line of the error that importing lmforge throws (Node prints the stack after it). */
function loadError(dir: string, env: Record<string, string> = {}) {
  const r = node(dir, "try { await import('lmforge'); } catch (e) { console.log(`${e.name}|${e.message}`); }", env);
  return r.stdout.trim();
}

const PREBUILD = `prebuilds/${PLATFORM}/lmforge.glibc.node`;

describe('which addon loads', () => {
  it('a build from source in build/Release', () => {
    const b = info(project({ files: { 'build/Release/lmforge.node': { copy: ADDON } } }));
    expect(b.origin).toBe('source');
    expect(b.path.endsWith(join('lmforge', 'build', 'Release', 'lmforge.node'))).toBe(true);
    expect(b).toMatchObject({ backend: 'cpu', package: 'lmforge', cpuTier: cpuInfo().tier, cudaArchs: [], fallback: false });
  });

  it('the prebuild, when there is no build', () => {
    const b = info(project({ files: { [PREBUILD]: { copy: ADDON } } }));
    expect(b.origin).toBe('prebuilt');
    expect(b.path.endsWith(join('lmforge', ...PREBUILD.split('/')))).toBe(true);
  });

  it.runIf(linuxX64)('says why the CUDA package is not used: not installed, no CUDA, broken, other version, LMFORGE_BACKEND=cpu', () => {
    const files = { [PREBUILD]: { copy: ADDON } };
    expect(info(project({ files })).reason).toBe('@lmforge/cuda-linux-x64 is not installed');
    // The CPU addon in the CUDA package's place: it loads, and says it has no CUDA.
    const noCuda = info(project({ files, cuda: { version: VERSION, addon: { copy: ADDON } } }));
    expect(noCuda).toMatchObject({ backend: 'cpu', package: 'lmforge', origin: 'prebuilt', fallback: true });
    expect(noCuda.reason).toMatch(/^@lmforge\/cuda-linux-x64 is installed but CUDA is unavailable: built without CUDA/);
    const broken = info(project({ files, cuda: { version: VERSION, addon: Buffer.from('not an ELF file') } }));
    expect(broken).toMatchObject({ backend: 'cpu', package: 'lmforge', fallback: true });
    expect(broken.reason).toMatch(/^@lmforge\/cuda-linux-x64 is installed but its addon does not load: .*lmforge\.node/);
    const cut = info(project({ files, cuda: { version: VERSION, addon: readFileSync(ADDON).subarray(0, 5000) } }));
    expect(cut.reason).toMatch(/^@lmforge\/cuda-linux-x64 is installed but its addon does not load: truncated: /);
    const old = info(project({ files, cuda: { version: '0.0.1', addon: { copy: ADDON } } }));
    expect(old.reason).toBe(`@lmforge/cuda-linux-x64 is installed at version 0.0.1 but lmforge at ${VERSION} (install @lmforge/cuda-linux-x64@${VERSION})`);
    const forced = info(project({ files, cuda: { version: VERSION, addon: Buffer.from('x') } }), { LMFORGE_BACKEND: 'cpu' });
    expect(forced).toMatchObject({ reason: 'LMFORGE_BACKEND=cpu', fallback: false });
  });

  it('LMFORGE_BACKEND=cuda without CUDA, or an unknown value, is a DeviceError', () => {
    const dir = project({ files: { [PREBUILD]: { copy: ADDON } } });
    expect(loadError(dir, { LMFORGE_BACKEND: 'cuda' })).toMatch(/^DeviceError\|lmforge: LMFORGE_BACKEND=cuda, but /);
    expect(loadError(dir, { LMFORGE_BACKEND: 'gpu' })).toBe("DeviceError|lmforge: LMFORGE_BACKEND must be cpu or cuda, got 'gpu'");
  });
});

describe('lmforge info', () => {
  it('names the binary, where it came from, the GPU code and why', async () => {
    const r = await lmforge(['info']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^tier: +(avx512|avx2|neon|scalar);/m);
    expect(r.stdout).toMatch(/^binary: +\S*lmforge[.\w]*\.node \((built from source|prebuilt), package (lmforge|@lmforge\/cuda-linux-x64)\)$/m);
    expect(r.stdout).toMatch(/^backend: +(cpu|cuda)( \(fallback\))?: .+; CUDA code (none|(sm|compute)_\d+.*)$/m);
  });
});

describe('no addon that loads: one error that names the fix', () => {
  const fix = 'npm rebuild lmforge --build-from-source';

  it('a missing prebuild', () => {
    const msg = loadError(project({}));
    expect(msg).toMatch(new RegExp(`^NativeError\\|lmforge: no native addon for ${PLATFORM} \\(no prebuilt binary in prebuilds/${PLATFORM}/`));
    expect(msg).toContain(fix);
  });

  it('a broken prebuild', () => {
    const msg = loadError(project({ files: { [PREBUILD]: Buffer.from('not a shared library') } }));
    expect(msg).toMatch(/^NativeError\|lmforge: the native addon .*lmforge\.glibc\.node does not load \(/);
    expect(msg).toContain(fix);
  });

  // dlopen maps a truncated library past the end of its file: the process used to die of SIGBUS.
  it.runIf(process.platform === 'linux')('a truncated prebuild (an interrupted download)', () => {
    const whole = readFileSync(ADDON);
    for (const bytes of [1000, Math.floor(whole.length * 0.6)]) {
      const msg = loadError(project({ files: { [PREBUILD]: whole.subarray(0, bytes) } }));
      expect(msg).toMatch(new RegExp(`^NativeError\\|lmforge: the native addon .*lmforge\\.glibc\\.node does not load \\(truncated: .* the file has ${bytes}\\)`));
      expect(msg).toContain(fix);
    }
  });
});

describe('CommonJS', () => {
  it('require() loads lmforge where Node can require ES modules, and says what to do where it cannot', () => {
    const dir = project({ files: { [PREBUILD]: { copy: ADDON } } });
    const code = "const l = require('lmforge'); console.log(typeof l.tensor, l.backendInfo().origin);";
    const run = (flags: string[]) => spawnSync(process.execPath, [...flags, '-e', code], { cwd: dir, encoding: 'utf8' });
    if (process.features.require_module) expect(run([]).stdout.trim()).toBe('function prebuilt');
    const old = run(['--no-experimental-require-module']);
    expect(old.status).not.toBe(0);
    expect(old.stderr).toContain("lmforge is an ES module and Node");
    expect(old.stderr).toContain("await import('lmforge')");
  });
});

describe('the .d.ts in strict consumer projects without @types/node', () => {
  // One consumer program, typechecked under two module settings (tsconfig.esm.json, tsconfig.nodenext.json).
  for (const name of ['esm', 'nodenext']) {
    it(`consumer (${name})`, () => {
      const dir = project({});
      cpSync(join(repo, 'test', 'fixtures', 'consumer'), dir, { recursive: true });
      const r = spawnSync(process.execPath, [TSC, '-p', join(dir, `tsconfig.${name}.json`)], { cwd: dir, encoding: 'utf8' });
      expect(r.stdout + r.stderr).toBe('');
      expect(r.status).toBe(0);
    });
  }
});
