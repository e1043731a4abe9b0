// Measures the machine's fp32 FMA ceiling: the rate benchmarks report their GFLOP/s against.
#pragma once

namespace lmf {

// GFLOP/s (2 per lane per FMA) of a register-only FMA loop on `threads` threads, using the widest
// vectors the current CPU tier allows, timed for about `seconds`.
double measure_fma_peak_gflops(int threads, double seconds);

}  // namespace lmf
