// `npm install` hook: loads a prebuilt addon when one fits, else builds from source with every core
// (node-gyp reads JOBS). node-gyp-build does the choosing.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const bin = require.resolve('node-gyp-build/bin.js');
const r = spawnSync(process.execPath, [bin], { stdio: 'inherit', env: { JOBS: 'max', ...process.env } });
process.exitCode = r.status ?? 1;
