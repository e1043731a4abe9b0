// Standalone check of the fused attention kernels (native/kernels/attention.h) against a naive float64
// implementation that builds the whole score matrix: forward (out, lse) and backward (dq, dk, dv), for
// float32, bfloat16 and float64, on every CPU tier this machine has, with 1-3 threads, causal or not,
// ALiBi, grouped-query heads, packed-document masks, Tq < Tk, and sizes that are multiples of no tile.
// Also: results are bitwise identical across runs with a fixed thread count.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "../core/error.h"
#include "../kernels/attention.h"
#include "../kernels/math.h"
#include "../runtime/cpu_features.h"
#include "../runtime/thread_pool.h"

using lmf::DType;
using lmf::kernels::AttentionParams;

namespace {

int g_passed = 0, g_failed = 0;
std::mt19937_64 g_rng(2024);

struct Case {
  int64_t B, H, Hkv, Tq, Tk, D;
  bool causal, alibi, docs;
};

// Values of one dtype with their exact float64 image.
struct Buf {
  DType dt;
  std::vector<float> f;
  std::vector<uint16_t> h;
  std::vector<double> d;
  Buf(DType t, size_t n) : dt(t) {
    if (t == DType::f32) f.assign(n, 0.0f);
    else if (t == DType::bf16) h.assign(n, 0);
    else d.assign(n, 0.0);
  }
  size_t size() const { return dt == DType::f32 ? f.size() : dt == DType::bf16 ? h.size() : d.size(); }
  void* data() { return dt == DType::f32 ? static_cast<void*>(f.data()) : dt == DType::bf16 ? static_cast<void*>(h.data()) : static_cast<void*>(d.data()); }
  double get(size_t i) const { return dt == DType::f32 ? f[i] : dt == DType::bf16 ? lmf::math::bf16_to_f32(h[i]) : d[i]; }
  void set(size_t i, double v) {
    if (dt == DType::f32) f[i] = static_cast<float>(v);
    else if (dt == DType::bf16) h[i] = lmf::math::f32_to_bf16(static_cast<float>(v));
    else d[i] = v;
  }
  void randomize(double scale) {
    std::uniform_real_distribution<double> u(-scale, scale);
    for (size_t i = 0; i < size(); ++i) set(i, u(g_rng));
  }
  std::vector<double> image() const {
    std::vector<double> r(size());
    for (size_t i = 0; i < r.size(); ++i) r[i] = get(i);
    return r;
  }
};

struct Ref {
  std::vector<double> out, lse, dq, dk, dv;
};

// Naive attention in double: the whole [Tq, Tk] matrix per (b, h).
Ref reference(const Case& c, const std::vector<double>& q, const std::vector<double>& k, const std::vector<double>& v,
              const std::vector<double>& dout, const std::vector<double>& slopes, const std::vector<int32_t>& docs,
              double scale) {
  const int64_t D = c.D, G = c.H / c.Hkv, off = c.Tk - c.Tq;
  Ref r;
  r.out.assign(c.B * c.H * c.Tq * D, 0.0);
  r.lse.assign(c.B * c.H * c.Tq, 0.0);
  r.dq.assign(r.out.size(), 0.0);
  r.dk.assign(c.B * c.Hkv * c.Tk * D, 0.0);
  r.dv.assign(r.dk.size(), 0.0);
  std::vector<double> P(c.Tq * c.Tk), dP(c.Tq * c.Tk);
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t h = 0; h < c.H; ++h) {
      const int64_t qb = (b * c.H + h) * c.Tq, kb = (b * c.Hkv + h / G) * c.Tk;
      for (int64_t i = 0; i < c.Tq; ++i) {
        const int64_t pos = off + i;
        double m = -INFINITY;
        for (int64_t j = 0; j < c.Tk; ++j) {
          bool ok = !(c.causal && j > pos) && (!c.docs || docs[b * c.Tk + j] == docs[b * c.Tk + pos]);
          double s = -INFINITY;
          if (ok) {
            s = 0.0;
            for (int64_t x = 0; x < D; ++x) s += q[(qb + i) * D + x] * k[(kb + j) * D + x];
            s *= scale;
            if (c.alibi) s -= slopes[h] * static_cast<double>(pos - j);
          }
          P[i * c.Tk + j] = s;
          m = std::max(m, s);
        }
        double l = 0.0;
        for (int64_t j = 0; j < c.Tk; ++j) l += std::exp(P[i * c.Tk + j] - m);
        r.lse[qb + i] = m + std::log(l);
        for (int64_t j = 0; j < c.Tk; ++j) P[i * c.Tk + j] = std::exp(P[i * c.Tk + j] - r.lse[qb + i]);
        for (int64_t x = 0; x < D; ++x) {
          double o = 0.0;
          for (int64_t j = 0; j < c.Tk; ++j) o += P[i * c.Tk + j] * v[(kb + j) * D + x];
          r.out[(qb + i) * D + x] = o;
        }
      }
      for (int64_t i = 0; i < c.Tq; ++i) {
        double rs = 0.0;
        for (int64_t j = 0; j < c.Tk; ++j) {
          double s = 0.0;
          for (int64_t x = 0; x < D; ++x) s += dout[(qb + i) * D + x] * v[(kb + j) * D + x];
          dP[i * c.Tk + j] = s;
          rs += s * P[i * c.Tk + j];
        }
        for (int64_t j = 0; j < c.Tk; ++j) {
          const double pr = P[i * c.Tk + j], ds = pr * (dP[i * c.Tk + j] - rs) * scale;
          for (int64_t x = 0; x < D; ++x) {
            r.dq[(qb + i) * D + x] += ds * k[(kb + j) * D + x];
            r.dk[(kb + j) * D + x] += ds * q[(qb + i) * D + x];
            r.dv[(kb + j) * D + x] += pr * dout[(qb + i) * D + x];
          }
        }
      }
    }
  return r;
}

// max |a - e| / max(max |e|, 1): a scale-aware error (the floor keeps exact zeros, e.g. dq with one
// visible key, from demanding exact rounding).
double rel_err(const Buf& a, const std::vector<double>& e) {
  double num = 0.0, den = 1.0;
  for (size_t i = 0; i < e.size(); ++i) {
    const double x = a.get(i);
    if (!std::isfinite(x)) return INFINITY;
    num = std::max(num, std::fabs(x - e[i]));
    den = std::max(den, std::fabs(e[i]));
  }
  return num / den;
}

void expect(bool ok, const std::string& what) {
  if (ok) {
    ++g_passed;
  } else {
    ++g_failed;
    std::printf("FAIL %s\n", what.c_str());
  }
}

std::string describe(const Case& c, DType dt, const char* tier, int threads) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s %s threads=%d B=%lld H=%lld Hkv=%lld Tq=%lld Tk=%lld D=%lld causal=%d alibi=%d docs=%d",
                lmf::dtype_name(dt), tier, threads, (long long)c.B, (long long)c.H, (long long)c.Hkv, (long long)c.Tq,
                (long long)c.Tk, (long long)c.D, c.causal, c.alibi, c.docs);
  return buf;
}

void run_case(const Case& c, DType dt, const char* tier, int threads) {
  lmf::set_num_threads(threads);
  const double scale = 1.0 / std::sqrt(static_cast<double>(c.D));
  const size_t nq = c.B * c.H * c.Tq * c.D, nk = c.B * c.Hkv * c.Tk * c.D;
  Buf q(dt, nq), k(dt, nk), v(dt, nk), g(dt, nq);
  q.randomize(2.0);
  k.randomize(2.0);
  v.randomize(1.0);
  g.randomize(1.0);
  std::vector<double> slopes(c.H);
  for (int64_t h = 0; h < c.H; ++h) slopes[h] = std::pow(2.0, -8.0 * (h + 1) / c.H);
  std::vector<int32_t> docs(c.B * c.Tk);
  for (int64_t b = 0; b < c.B; ++b) {
    int32_t id = 7;
    for (int64_t j = 0; j < c.Tk; ++j) {
      if (g_rng() % 23 == 0) id += 1 + static_cast<int32_t>(g_rng() % 3);
      docs[b * c.Tk + j] = id;
    }
  }
  AttentionParams p;
  p.B = c.B; p.H = c.H; p.Hkv = c.Hkv; p.Tq = c.Tq; p.Tk = c.Tk; p.D = c.D;
  p.dtype = dt;
  p.scale = scale;
  p.causal = c.causal;
  p.slopes = c.alibi ? slopes.data() : nullptr;
  p.doc_ids = c.docs ? docs.data() : nullptr;
  const DType ldt = dt == DType::f64 ? DType::f64 : DType::f32;
  Buf out(dt, nq), lse(ldt, c.B * c.H * c.Tq), dq(dt, nq), dk(dt, nk), dv(dt, nk);
  std::vector<float> ws(static_cast<size_t>(lmf::kernels::attention_backward_workspace(p)) + 1);
  lmf::kernels::attention_forward_cpu(out.data(), lse.data(), q.data(), k.data(), v.data(), p);
  lmf::kernels::attention_backward_cpu(dq.data(), dk.data(), dv.data(), g.data(), q.data(), k.data(), v.data(), out.data(),
                                       lse.data(), ws.data(), p);
  const Ref r = reference(c, q.image(), k.image(), v.image(), g.image(), slopes, docs, scale);
  // float32: fp32 accumulation over D and Tk terms; bfloat16: outputs rounded to 8 bits of mantissa.
  const double tol = dt == DType::f64 ? 1e-12 : dt == DType::f32 ? 2e-5 : 1.6e-2;
  const std::string name = describe(c, dt, tier, threads);
  double lse_err = 0.0;
  for (size_t i = 0; i < r.lse.size(); ++i) lse_err = std::max(lse_err, std::fabs(lse.get(i) - r.lse[i]) / (1.0 + std::fabs(r.lse[i])));
  const double e[5] = {rel_err(out, r.out), lse_err, rel_err(dq, r.dq), rel_err(dk, r.dk), rel_err(dv, r.dv)};
  const char* names[5] = {"out", "lse", "dq", "dk", "dv"};
  for (int x = 0; x < 5; ++x) {
    const double t = x == 1 && dt == DType::bf16 ? 1e-5 : tol;  // lse is fp32 from bf16 inputs: exact inputs
    char buf[64];
    std::snprintf(buf, sizeof buf, " %s err %.3g (tol %.3g)", names[x], e[x], t);
    expect(e[x] <= t, name + buf);
  }
  // Determinism: a second run with the same thread count is bitwise identical.
  if (dt != DType::f64) {
    Buf dq2(dt, nq), dk2(dt, nk), dv2(dt, nk);
    lmf::kernels::attention_backward_cpu(dq2.data(), dk2.data(), dv2.data(), g.data(), q.data(), k.data(), v.data(), out.data(),
                                         lse.data(), ws.data(), p);
    bool same = true;
    for (size_t i = 0; i < nq; ++i) same = same && dq.get(i) == dq2.get(i);
    for (size_t i = 0; i < nk; ++i) same = same && dk.get(i) == dk2.get(i) && dv.get(i) == dv2.get(i);
    expect(same, name + " backward is deterministic");
  }
}

// Grouped-query attention against the same heads with K/V repeated per query head (plain multi-head):
// the forward (out, lse) must be bitwise equal, since each head's arithmetic is the same however the
// kernel groups heads to share K/V tiles; dq too. dk/dv of a group are the sum over its heads, which the
// GQA kernel accumulates in a different order: compared within fp32 rounding.
void run_gqa_vs_mha(const Case& c, DType dt, const char* tier, int threads) {
  lmf::set_num_threads(threads);
  const int64_t G = c.H / c.Hkv, D = c.D;
  const size_t nq = c.B * c.H * c.Tq * D, nk = c.B * c.Hkv * c.Tk * D, nkr = c.B * c.H * c.Tk * D;
  Buf q(dt, nq), k(dt, nk), v(dt, nk), g(dt, nq), kr(dt, nkr), vr(dt, nkr);
  q.randomize(2.0);
  k.randomize(2.0);
  v.randomize(1.0);
  g.randomize(1.0);
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t h = 0; h < c.H; ++h)
      for (int64_t x = 0; x < c.Tk * D; ++x) {
        kr.set((b * c.H + h) * c.Tk * D + x, k.get((b * c.Hkv + h / G) * c.Tk * D + x));
        vr.set((b * c.H + h) * c.Tk * D + x, v.get((b * c.Hkv + h / G) * c.Tk * D + x));
      }
  std::vector<double> slopes(c.H);
  for (int64_t h = 0; h < c.H; ++h) slopes[h] = std::pow(2.0, -8.0 * (h + 1) / c.H);
  AttentionParams p;
  p.B = c.B; p.H = c.H; p.Hkv = c.Hkv; p.Tq = c.Tq; p.Tk = c.Tk; p.D = D;
  p.dtype = dt;
  p.scale = 1.0 / std::sqrt(static_cast<double>(D));
  p.causal = c.causal;
  p.slopes = c.alibi ? slopes.data() : nullptr;
  AttentionParams pm = p;
  pm.Hkv = c.H;
  Buf out(dt, nq), lse(DType::f32, c.B * c.H * c.Tq), dq(dt, nq), dk(dt, nk), dv(dt, nk);
  Buf outm(dt, nq), lsem(DType::f32, c.B * c.H * c.Tq), dqm(dt, nq), dkm(dt, nkr), dvm(dt, nkr);
  std::vector<float> ws(static_cast<size_t>(lmf::kernels::attention_backward_workspace(p)) + 1);
  std::vector<float> wsm(static_cast<size_t>(lmf::kernels::attention_backward_workspace(pm)) + 1);
  lmf::kernels::attention_forward_cpu(out.data(), lse.data(), q.data(), k.data(), v.data(), p);
  lmf::kernels::attention_forward_cpu(outm.data(), lsem.data(), q.data(), kr.data(), vr.data(), pm);
  lmf::kernels::attention_backward_cpu(dq.data(), dk.data(), dv.data(), g.data(), q.data(), k.data(), v.data(), out.data(),
                                       lse.data(), ws.data(), p);
  lmf::kernels::attention_backward_cpu(dqm.data(), dkm.data(), dvm.data(), g.data(), q.data(), kr.data(), vr.data(),
                                       outm.data(), lsem.data(), wsm.data(), pm);
  bool fwd_same = true, dq_same = true;
  for (size_t i = 0; i < nq; ++i) {
    fwd_same = fwd_same && out.get(i) == outm.get(i);
    dq_same = dq_same && dq.get(i) == dqm.get(i);
  }
  for (size_t i = 0; i < lse.size(); ++i) fwd_same = fwd_same && lse.get(i) == lsem.get(i);
  std::vector<double> dk_sum(nk, 0.0), dv_sum(nk, 0.0);
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t h = 0; h < c.H; ++h)
      for (int64_t x = 0; x < c.Tk * D; ++x) {
        dk_sum[(b * c.Hkv + h / G) * c.Tk * D + x] += dkm.get((b * c.H + h) * c.Tk * D + x);
        dv_sum[(b * c.Hkv + h / G) * c.Tk * D + x] += dvm.get((b * c.H + h) * c.Tk * D + x);
      }
  // bf16 dk/dv: one rounding of the group sum against G roundings summed.
  const double tol = dt == DType::f32 ? 1e-5 : 1.6e-2;
  const std::string name = "gqa vs mha " + describe(c, dt, tier, threads);
  expect(fwd_same, name + " forward bitwise equal");
  expect(dq_same, name + " dq bitwise equal");
  expect(rel_err(dk, dk_sum) <= tol && rel_err(dv, dv_sum) <= tol, name + " dk/dv = group sums");
}

}  // namespace

int main() {
  try {
    std::vector<const char*> tiers{"scalar"};
    const auto& f = lmf::cpu_features();
    if (f.avx2 && f.fma) tiers.push_back("avx2");
    if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq) tiers.push_back("avx512");
    const std::vector<Case> cases = {
        {2, 6, 3, 13, 13, 40, true, false, false},   {2, 6, 6, 77, 77, 64, true, true, false},
        {2, 6, 2, 77, 200, 40, true, false, true},   {1, 6, 1, 200, 200, 128, false, false, false},
        {2, 6, 3, 1, 1, 64, true, true, true},       {1, 6, 2, 1, 77, 40, true, true, false},
        {1, 2, 1, 130, 130, 7, false, true, true},   {1, 1, 1, 70, 140, 256, true, false, false},
    };
    for (const char* tier : tiers) {
      lmf::set_cpu_tier(tier);
      int threads = 1;
      for (const Case& c : cases) {
        run_case(c, DType::f32, tier, threads);
        run_case(c, DType::bf16, tier, threads);
        threads = threads % 3 + 1;
      }
      for (const Case& c : {Case{1, 8, 2, 130, 130, 40, true, true, false}, Case{2, 6, 1, 1, 77, 64, true, false, false},
                            Case{1, 4, 4, 70, 70, 24, false, false, false}})
        for (int th : {1, 2, 3}) {
          run_gqa_vs_mha(c, DType::f32, tier, th);
          run_gqa_vs_mha(c, DType::bf16, tier, th);
        }
    }
    lmf::set_cpu_tier("");
    for (size_t i = 0; i < cases.size(); i += 2) run_case(cases[i], DType::f64, "f64", 2);
  } catch (const std::exception& e) {
    std::printf("FAIL exception: %s\n", e.what());
    ++g_failed;
  }
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
