/** What a benchmark ran on: CPU model, cores, kernel tier, measured FMA ceiling. */
import { readFileSync } from 'node:fs';
import os from 'node:os';

import { native } from '../native.js';
import { cpuInfo, numThreads } from '../runtime.js';

export interface MachineInfo {
  cpu: string;
  cores: number;
  tier: string;
  node: string;
  date: string;
}

export function machineInfo(): MachineInfo {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpu = m[1]!.trim();
  } catch {
    // not Linux: os.cpus() has it
  }
  return { cpu, cores: os.availableParallelism(), tier: cpuInfo().tier, node: process.version, date: new Date().toISOString() };
}

/** Memory bandwidth ceiling in GB/s (STREAM triad) for a thread count, measured now. */
export function memoryBandwidth(threads: number = numThreads(), seconds = 0.5): number {
  return native.memBandwidth(threads, seconds);
}

/** fp32 FMA ceiling in GFLOP/s for a thread count, measured now (the machine may be shared). */
export function fmaPeak(threads: number = numThreads(), seconds = 0.6): number {
  return native.fmaPeak(threads, seconds);
}
