// `npm install` hook. node-gyp-build does the choosing: when the prebuilt addon in prebuilds/ loads, nothing
// is built; otherwise (another platform, a musl libc, `npm install --build-from-source`) the addon is built
// from source with every core (node-gyp reads JOBS). A git checkout without build/Release builds from source
// too: a prebuild left there by `npm pack` may predate the sources.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const bin = require.resolve('node-gyp-build/bin.js');
const env = { JOBS: 'max', ...process.env };
if (existsSync(join(root, '.git')) && !existsSync(join(root, 'build', 'Release', 'lmforge.node'))) env.npm_config_build_from_source = 'true';
const r = spawnSync(process.execPath, [bin], { stdio: 'inherit', env, cwd: root });
if (r.status !== 0) {
  console.error(
    `lmforge: no prebuilt addon loads on ${process.platform}-${process.arch} and the build from source failed (above). ` +
      'The source build needs a C++17 compiler, make and Python 3; install them and run `npm rebuild lmforge --build-from-source`.',
  );
}
process.exitCode = r.status ?? 1;
