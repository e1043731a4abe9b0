// Prints the addon's C++ sources from native/sources.txt, space separated, for binding.gyp.
// `node scripts/sources.mjs` from the repository root (gyp runs it there).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const lines = readFileSync(join(root, 'native', 'sources.txt'), 'utf8').split('\n');
const sources = lines.map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
// binding.gyp always builds without CUDA: the stub runtime stands in for the CUDA one.
sources.push('native/runtime/cuda_stub.cpp');
process.stdout.write(sources.join(' '));
