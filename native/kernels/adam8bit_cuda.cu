// CUDA twin of the 8-bit blockwise state (adam8bit.h): blockwise (de)quantisation and the fused 8-bit Adam
// step. One thread per element and one 256-thread pass per 256-element block, so a block's absmax is one
// block-wide max; each CUDA block walks many quantisation blocks and loads the two maps (codes and
// midpoints, 4 KiB) into shared memory once.
//
// The maps are the CPU twin's own (quant8_map(), built on the host) copied into device globals once per
// device. Nearest code = the number of midpoints strictly below x (a binary search over the 255 sorted
// midpoints), exactly the CPU's table-plus-refine rule; NaN maps to the code of 0 as on the CPU.
#include <cmath>
#include <mutex>

#include "math.h"
#include "optim_cuda.cuh"
#include "adam8bit.h"

namespace lmf::kernels {
namespace quant8_cuda {
namespace {

using optim_cuda::Batch;
using optim_cuda::slot_of;

constexpr int kThreads = 256;
static_assert(kQuant8Block == kThreads, "one thread per element of a quantisation block");

struct DevMaps {
  float code[2][256];  // [0] signed, [1] unsigned
  float mid[2][256];
  int zero[2];
};
__device__ DevMaps g_maps;

// Copies the host maps to the current device the first time that device needs them.
void ensure_maps(cudaStream_t st) {
  static std::mutex mu;
  static bool done[64] = {};
  int dev = 0;
  cudaGetDevice(&dev);
  std::lock_guard<std::mutex> lock(mu);
  if (dev >= 0 && dev < 64 && done[dev]) return;
  DevMaps h{};
  for (int s = 0; s < 2; ++s) {
    const Quant8Map& q = quant8_map(s == 0);
    for (int k = 0; k < 256; ++k) {
      h.code[s][k] = q.code[k];
      h.mid[s][k] = q.mid[k];
    }
    h.zero[s] = q.zero;
  }
  cudaError_t e = cudaMemcpyToSymbolAsync(g_maps, &h, sizeof(h), 0, cudaMemcpyHostToDevice, st);
  if (e == cudaSuccess) e = cudaStreamSynchronize(st);  // h lives on this stack frame
  if (e != cudaSuccess) LMF_THROW(internal, "quant8", "copying the 8-bit maps to the device failed: " << cudaGetErrorString(e));
  if (dev >= 0 && dev < 64) done[dev] = true;
}

struct SMaps {
  float code[2][256];
  float mid[2][256];
};

__device__ __forceinline__ void load_maps(SMaps& s) {
  for (int k = threadIdx.x; k < 256; k += blockDim.x) {
    s.code[0][k] = g_maps.code[0][k];
    s.code[1][k] = g_maps.code[1][k];
    s.mid[0][k] = g_maps.mid[0][k];
    s.mid[1][k] = g_maps.mid[1][k];
  }
  __syncthreads();
}

__device__ __forceinline__ uint8_t nearest(const float* mid, int zero, float x) {
  if (x != x) return static_cast<uint8_t>(zero);
  int lo = 0, hi = 255;  // answer in [0, 255]: count of mid[0..254] < x
  while (lo < hi) {
    const int m = (lo + hi) >> 1;
    if (x > mid[m]) lo = m + 1;
    else hi = m;
  }
  return static_cast<uint8_t>(lo);
}

// Block-wide max of non-negative values (256 threads); every thread gets it.
__device__ __forceinline__ float block_max(float v, float* red) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
  __syncthreads();
  float r = red[0];
  for (int w = 1; w < kThreads / 32; ++w) r = fmaxf(r, red[w]);
  __syncthreads();  // red is reused by the next call
  return r;
}

struct Slot {
  float* w;
  uint16_t* w16;
  const void* g;
  uint8_t* c1;
  uint8_t* c2;
  float* a1;
  float* a2;
  int64_t n;
  int g_bf16;
  optim::AdamCoef adam;
};
constexpr int kSlots = 24;
using AdamBatch = Batch<Slot, kSlots>;

__global__ void __launch_bounds__(kThreads) adam8_kernel(const AdamBatch b) {
  __shared__ SMaps sm;
  __shared__ float red[kThreads / 32];
  load_maps(sm);
  const int zs = g_maps.zero[0], zu = g_maps.zero[1];
  const int64_t total = b.first[b.count];
  for (int64_t c = blockIdx.x; c < total; c += gridDim.x) {
    const int k = slot_of(b, c);
    const Slot& s = b.s[k];
    const int64_t blk = c - b.first[k], i = blk * kQuant8Block + threadIdx.x;
    const bool in = i < s.n;
    const optim::AdamCoef& co = s.adam;
    float m = 0.0f, v = 0.0f, w = 0.0f;
    if (in) {
      // The CPU twin's order: dequantize, add L2 decay to g, update the moments.
      m = sm.code[0][s.c1[i]] * s.a1[blk];
      v = sm.code[1][s.c2[i]] * s.a2[blk];
      w = s.w[i];
      const float gr = (s.g_bf16 ? math::bf16_to_f32(static_cast<const uint16_t*>(s.g)[i]) : static_cast<const float*>(s.g)[i]);
      optim::adam_moments(gr + co.l2 * w, m, v, co);
      optim::adam_apply(w, m, v, co);
      s.w[i] = w;
      if (s.w16) s.w16[i] = math::f32_to_bf16(w);
    }
    const float mx1 = block_max(in ? fabsf(m) : 0.0f, red);
    const float mx2 = block_max(in ? v : 0.0f, red);
    if (threadIdx.x == 0) {
      s.a1[blk] = mx1;
      s.a2[blk] = mx2;
    }
    if (in) {
      const float r1 = mx1 > 0 ? 1.0f / mx1 : 0.0f, r2 = mx2 > 0 ? 1.0f / mx2 : 0.0f;
      s.c1[i] = quant8_keep_sign(nearest(sm.mid[0], zs, m * r1), m, static_cast<uint8_t>(zs));
      s.c2[i] = nearest(sm.mid[1], zu, v * r2);
    }
  }
}

__global__ void __launch_bounds__(kThreads) quantize_kernel(uint8_t* codes, float* absmax, const float* x, int64_t n, int sgn) {
  __shared__ SMaps sm;
  __shared__ float red[kThreads / 32];
  load_maps(sm);
  const int m = sgn ? 0 : 1, zero = g_maps.zero[m];
  const int64_t blocks = (n + kQuant8Block - 1) / kQuant8Block;
  for (int64_t blk = blockIdx.x; blk < blocks; blk += gridDim.x) {
    const int64_t i = blk * kQuant8Block + threadIdx.x;
    const float xi = i < n ? x[i] : 0.0f;
    const float mx = block_max(fabsf(xi), red);
    if (threadIdx.x == 0) absmax[blk] = mx;
    if (i < n) codes[i] = nearest(sm.mid[m], zero, xi * (mx > 0 ? 1.0f / mx : 0.0f));
  }
}

__global__ void dequantize_kernel(float* x, const uint8_t* codes, const float* absmax, int64_t n, int sgn) {
  const int m = sgn ? 0 : 1;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    x[i] = g_maps.code[m][codes[i]] * absmax[i / kQuant8Block];
}

unsigned grid_for(int64_t blocks) { return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(blocks, 1 << 14))); }

}  // namespace
}  // namespace quant8_cuda

using namespace quant8_cuda;

void adam8bit_step_cuda(const std::vector<Adam8Slot>& slots, cuda_stream stream) {
  if (slots.empty()) return;
  ensure_maps(stream);
  optim_cuda::for_batches<quant8_cuda::Slot, quant8_cuda::kSlots>(
      slots.size(), kQuant8Block,
      [&](size_t k) {
        const Adam8Slot& a = slots[k];
        quant8_cuda::Slot s{};
        s.w = a.w;
        s.w16 = a.w16;
        s.g = a.g;
        s.c1 = a.c1;
        s.c2 = a.c2;
        s.a1 = a.a1;
        s.a2 = a.a2;
        s.n = a.n;
        s.g_bf16 = a.g_bf16 ? 1 : 0;
        s.adam = a.adam;
        return s;
      },
      [&](size_t k) { return slots[k].n; },
      [&](const AdamBatch& b, int64_t c) {
        adam8_kernel<<<grid_for(c), kThreads, 0, stream>>>(b);
        optim_cuda::check_launch("Adam8bit.step");
      });
}

void quantize_blockwise_cuda(uint8_t* codes, float* absmax, const float* x, int64_t n, bool is_signed, cuda_stream stream) {
  if (n == 0) return;
  ensure_maps(stream);
  quantize_kernel<<<grid_for((n + kQuant8Block - 1) / kQuant8Block), kThreads, 0, stream>>>(codes, absmax, x, n, is_signed ? 1 : 0);
  optim_cuda::check_launch("quantize8");
}

void dequantize_blockwise_cuda(float* x, const uint8_t* codes, const float* absmax, int64_t n, bool is_signed, cuda_stream stream) {
  if (n == 0) return;
  ensure_maps(stream);
  dequantize_kernel<<<grid_for((n + 255) / 256), 256, 0, stream>>>(x, codes, absmax, n, is_signed ? 1 : 0);
  optim_cuda::check_launch("dequantize8");
}

}  // namespace lmf::kernels
