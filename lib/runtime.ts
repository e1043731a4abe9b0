/** Process-wide settings of the native runtime: threads, CPU kernel tier, CUDA availability. */
import { DTypeError, ValueError } from './errors.js';
import { native, type CudaInfo, type NativeCpuFeatures } from './native.js';
import { checkInt } from './ops/util.js';
export { getDefaultDevice, setDefaultDevice } from './ops/util.js';
export { backendInfo, CUDA_PACKAGE, type BackendInfo } from './backend.js';

/** Threads used by native kernels (default: the machine's cores). */
export function numThreads(): number {
  return native.numThreads();
}

/** Sets the kernel thread count (1 to 1024). Results do not depend on it. */
export function setNumThreads(n: number): void {
  checkInt('setNumThreads', 'n', n);
  native.setNumThreads(n);
}

export type CpuTier = 'avx512' | 'avx2' | 'neon' | 'scalar';

/** What the CPU offers, read with cpuid, and the kernel tier in use. */
export function cpuInfo(): NativeCpuFeatures & { tier: CpuTier } {
  return native.cpuFeatures() as NativeCpuFeatures & { tier: CpuTier };
}

/**
 * Forces a lower kernel tier (for tests and benchmarks); `null` restores the detected one.
 * A tier the CPU lacks is a ValueError.
 */
export function setCpuTier(tier: CpuTier | null): void {
  if (tier !== null && !['avx512', 'avx2', 'neon', 'scalar'].includes(tier))
    throw new ValueError('setCpuTier', `unknown tier ${JSON.stringify(tier)} (expected avx512, avx2, neon, scalar or null)`);
  native.setCpuTier(tier ?? '');
}

/**
 * Whether CUDA can be used, and why not when it cannot ("built without CUDA support ...", no driver, a
 * driver too old, no GPU); with a device: its name, compute capability, memory and GEMM engine.
 */
export function cudaAvailable(): CudaInfo {
  return native.cudaAvailable();
}

/** The GEMM micro-kernel the current tier selects for a dtype (for benchmark reports). */
export function matmulKernel(dtype: 'float32' | 'bfloat16' | 'float16' = 'float32'): string {
  if (dtype !== 'float32' && dtype !== 'bfloat16' && dtype !== 'float16')
    throw new DTypeError('matmulKernel', `dtype must be 'float32', 'bfloat16' or 'float16' (the GEMM dtypes), got ${JSON.stringify(dtype)}`);
  return native.matmulKernelName(dtype === 'float32' ? 0 : dtype === 'bfloat16' ? 1 : 2);
}
