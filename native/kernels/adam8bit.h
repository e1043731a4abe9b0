// 8-bit blockwise optimizer state, the bitsandbytes design (Dettmers et al., "8-bit Optimizers via
// Block-wise Quantization", 2022): a 256-entry dynamic map (a decimal exponent plus a linear fraction,
// signed for Adam's first moment, unsigned for the second), values in blocks of 256 elements scaled by the
// block's absmax (one fp32 per block), each stored as the index of the nearest map entry.
#pragma once
#include <cstdint>
#include <vector>

#include "../runtime/cuda_runtime.h"
#include "optim_math.h"

namespace lmf::kernels {

constexpr int64_t kQuant8Block = 256;

// A map and what quantising to it needs: the 256 sorted codes, the 255 midpoints between neighbours
// (mid[255] = +inf), and a table from the top 16 bits of a float (sign, exponent, 7 mantissa bits) to the
// nearest code of the smallest float with those bits; `refine` steps of `i += x > mid[i]` then give the
// nearest code of any float (ties go to the lower code).
struct Quant8Map {
  float code[256];
  float mid[256];
  uint8_t table[65536];
  uint8_t zero;    // the code of 0.0
  int refine;
};

// Built once (thread-safe static) by bitsandbytes' create_dynamic_map(signed, max_exponent_bits = 7).
const Quant8Map& quant8_map(bool is_signed);

inline uint8_t quant8_nearest(const Quant8Map& q, float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  int i = q.table[u >> 16];
  for (int r = 0; r < q.refine; ++r) i += x > q.mid[i];
  return static_cast<uint8_t>(i);
}

// bitsandbytes' sign rule for the first moment (its 8-bit optimizer kernels): a negative value that rounds
// to the code of 0 takes the smallest-magnitude negative code (zero - 1) instead, so a small negative
// moment keeps pushing the weight the same way rather than vanishing. bitsandbytes compares sign bits, and
// 0.0's is clear: a positive value that rounds to 0 stays 0 there and here. Only values < 0 move here
// (bitsandbytes would also move -0.0 and a NaN with its sign bit set). m's codes only: v >= 0.
LMF_HD uint8_t quant8_keep_sign(uint8_t code, float m, uint8_t zero) {
  return static_cast<uint8_t>(code - (code == zero && m < 0.0f ? 1 : 0));
}

// One parameter under 8-bit Adam: fp32 weights (or master), optional bf16 copy, gradient, and the two
// moments as codes (n bytes each) with one absmax per block of 256 (ceil(n / 256) floats each).
struct Adam8Slot {
  float* w = nullptr;
  uint16_t* w16 = nullptr;
  const void* g = nullptr;
  bool g_bf16 = false;
  uint8_t* c1 = nullptr;
  uint8_t* c2 = nullptr;
  float* a1 = nullptr;
  float* a2 = nullptr;
  int64_t n = 0;
  optim::AdamCoef adam{};
};

// Per block: dequantize m and v, update them and the weights in fp32, take the new absmax of each moment,
// and requantize to the nearest code (m's code then follows quant8_keep_sign).
void adam8bit_step_cpu(const std::vector<Adam8Slot>& slots);

// Tests only: false keeps the CPU kernels off their AVX-512 VBMI path on a CPU that has it, so that the
// plain AVX-512 path is checked there too; true (the default) restores it.
void quant8_allow_vbmi(bool on);

// Blockwise quantisation of x (n floats) into codes and absmax, and its inverse.
void quantize_blockwise_cpu(uint8_t* codes, float* absmax, const float* x, int64_t n, bool is_signed);
void dequantize_blockwise_cpu(float* x, const uint8_t* codes, const float* absmax, int64_t n, bool is_signed);

// ---- CUDA twin (adam8bit_cuda.cu): the same maps (copied from quant8_map() to each device once) and the same
// nearest-code rule (the number of midpoints strictly below x, by binary search; NaN gives the code of 0)
// and sign rule (quant8_keep_sign),
// so codes equal the CPU twin's wherever the fp32 moments agree; fp32 results may differ in the last bit
// (fused multiply-adds), which moves a code by one only when the value sits within rounding of a midpoint.
void adam8bit_step_cuda(const std::vector<Adam8Slot>& slots, cuda_stream stream);
void quantize_blockwise_cuda(uint8_t* codes, float* absmax, const float* x, int64_t n, bool is_signed, cuda_stream stream);
void dequantize_blockwise_cuda(float* x, const uint8_t* codes, const float* absmax, int64_t n, bool is_signed, cuda_stream stream);

}  // namespace lmf::kernels
