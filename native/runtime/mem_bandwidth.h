// Measures the machine's memory bandwidth: the ceiling memory-bound kernels report their GB/s against.
#pragma once

namespace lmf {

// GB/s of the STREAM triad a[i] = b[i] + s * c[i] (12 bytes per element of fp32: two reads and one write,
// write-allocate traffic not counted, as STREAM counts) on `threads` threads, each on its own three
// 16 MiB arrays (48 MiB per thread, beyond the last-level cache), best of several rounds taking about
// `seconds` in all.
double measure_mem_bandwidth_gbs(int threads, double seconds);

}  // namespace lmf
