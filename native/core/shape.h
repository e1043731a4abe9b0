// Shapes and strides (in elements): numel with overflow checks, contiguous strides, broadcasting.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "error.h"

namespace lmf {

using Shape = std::vector<int64_t>;

constexpr int kMaxDims = 8;  // kernels iterate with fixed-size index arrays

inline std::string shape_str(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

// Total element count; throws for negative sizes, too many dims, or a count past 2^48 (no machine holds it).
inline int64_t checked_numel(const Shape& s, const char* op) {
  LMF_CHECK(s.size() <= static_cast<size_t>(kMaxDims), shape, op,
            "at most " << kMaxDims << " dimensions are supported, got " << s.size());
  int64_t n = 1;
  for (int64_t d : s) {
    LMF_CHECK(d >= 0, shape, op, "negative size in shape " << shape_str(s));
    if (d != 0 && n > (int64_t(1) << 48) / d) LMF_THROW(memory, op, "shape " << shape_str(s) << " is too large");
    n *= d;
  }
  return n;
}

inline int64_t numel_of(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

inline Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc *= s[i] > 0 ? s[i] : 1;
  }
  return st;
}

// NumPy broadcasting: align from the right; sizes must match or be 1.
inline Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t n = a.size() > b.size() ? a.size() : b.size();
  Shape r(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    LMF_CHECK(da == db || da == 1 || db == 1, shape, op,
              "shapes " << shape_str(a) << " and " << shape_str(b) << " cannot be broadcast together");
    r[i] = da == 1 ? db : da;
  }
  return r;
}

// Strides that read a tensor of shape `s`, strides `st` as if it had shape `to` (stride 0 where broadcast).
inline Shape broadcast_strides(const Shape& s, const Shape& st, const Shape& to) {
  Shape r(to.size(), 0);
  const size_t off = to.size() - s.size();
  for (size_t i = 0; i < s.size(); ++i) r[off + i] = s[i] == 1 ? 0 : st[i];
  return r;
}

// Normalises a possibly negative dimension index.
inline int norm_dim(int64_t d, size_t ndim, const char* op) {
  const int64_t n = static_cast<int64_t>(ndim);
  LMF_CHECK(d >= -n && d < n, shape, op, "dimension " << d << " is out of range for a tensor of " << n << " dimensions");
  return static_cast<int>(d < 0 ? d + n : d);
}

}  // namespace lmf
