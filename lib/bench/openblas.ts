/**
 * OpenBLAS as a peer measured in the same run: bench/peers/openblas_peer.c, compiled on first use
 * where a C compiler and libopenblas are installed (Debian: libopenblas-dev). Absent either, the peer
 * is reported as unavailable with the reason; lmforge never needs OpenBLAS itself.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { cpuInfo } from '../runtime.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface OpenBlasPeer {
  available: boolean;
  reason: string;
  /** The OPENBLAS_CORETYPE the peer runs with, chosen so that it uses its best kernel here. */
  coretype: string;
  run(M: number, N: number, K: number, transA: boolean, transB: boolean, threads: number): { gflops: number; core?: string };
}

/** OpenBLAS's own detection picks a generic kernel on recent AMD CPUs; name the core type instead. */
function bestCoretype(): string {
  const f = cpuInfo();
  if (f.avx512f && f.avx512bw && f.avx512vl) return f.avx512bf16 ? 'COOPERLAKE' : 'SKYLAKEX';
  if (f.avx2 && f.fma) return 'HASWELL';
  return '';
}

export function openblasPeer(): OpenBlasPeer {
  const src = join(root, 'bench', 'peers', 'openblas_peer.c');
  const bin = join(root, 'build', 'peers', 'openblas_peer');
  const coretype = bestCoretype();
  const unavailable = (reason: string): OpenBlasPeer => ({
    available: false,
    reason,
    coretype,
    run: () => {
      throw new Error(`OpenBLAS peer unavailable: ${reason}`);
    },
  });
  if (!existsSync(src)) return unavailable('bench/peers/openblas_peer.c is missing');
  if (!existsSync(bin) || statSync(bin).mtimeMs < statSync(src).mtimeMs) {
    mkdirSync(dirname(bin), { recursive: true });
    const cc = process.env.CC ?? 'cc';
    const r = spawnSync(cc, ['-O2', src, '-o', bin, '-lopenblas'], { encoding: 'utf8' });
    if (r.status !== 0) return unavailable(`could not build it with ${cc} -lopenblas (install libopenblas-dev): ${(r.stderr || r.error?.message || '').split('\n')[0]}`);
  }
  // Both variables are replaced for the peer alone: some environments set them to a safe, slow kernel.
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_CORETYPE: coretype };
  delete env.OPENBLAS_L2_SIZE;
  if (!coretype) delete env.OPENBLAS_CORETYPE;
  return {
    available: true,
    reason: '',
    coretype,
    run(M, N, K, transA, transB, threads) {
      const out = execFileSync(bin, [M, N, K, transA ? 1 : 0, transB ? 1 : 0, threads, 200].map(String), { env, encoding: 'utf8' });
      const line = out.trim().split('\n').pop() ?? '';
      return JSON.parse(line) as { gflops: number; core?: string };
    },
  };
}
