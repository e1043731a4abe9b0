// Tuning harness for the CPU GEMM (the user-facing benchmark lives in bench/): GFLOP/s, median of >= 5
// timed runs after warm-up, 1 and 2 threads, forward shapes and the two backward transposes.
// Usage: matmul_bench [dtype=f32|bf16|f16] [reps] [max threads, 1 or 2]
//        matmul_bench one M N K transA transB threads reps [dtype]   (bench/peers/openblas_peer.c's arguments; one JSON line)
// LMF_BENCH_TIER=avx2|scalar|... forces a lower CPU tier.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "../kernels/math.h"
#include "../kernels/matmul.h"
#include "../runtime/cpu_features.h"
#include "../runtime/thread_pool.h"

using lmf::DType;
using lmf::kernels::GemmParams;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double time_gemm(const GemmParams& p, int reps) {
  const double t0 = now_s();
  int warm = 0;
  do {
    lmf::kernels::matmul_forward_cpu(p);
    ++warm;
  } while (warm < 2 || now_s() - t0 < 0.2);
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const double s = now_s();
    lmf::kernels::matmul_forward_cpu(p);
    t.push_back(now_s() - s);
  }
  std::sort(t.begin(), t.end());
  const double med = t[t.size() / 2];
  return 2.0 * p.M * p.N * p.K * p.batch / med * 1e-9;
}

// Same values as bench/peers/openblas_peer.c (in [-0.5, 0.5), no denormals, which would slow some FPUs), in dtype.
void fill(std::vector<char>& buf, DType dt, size_t mul) {
  const size_t n = buf.size() / lmf::dtype_size(dt);
  for (size_t i = 0; i < n; ++i) {
    const float v = static_cast<float>((i * mul % 1000) / 1000.0 - 0.5);
    if (dt == DType::f32) {
      std::memcpy(buf.data() + 4 * i, &v, 4);
    } else {
      const uint16_t h = dt == DType::bf16 ? lmf::math::f32_to_bf16(v) : lmf::math::f32_to_f16(v);
      std::memcpy(buf.data() + 2 * i, &h, 2);
    }
  }
}

// Row-major operands as in openblas_peer.c: A is M x K (stored K x M when transposed), B is K x N
// (stored N x K when transposed), C is M x N.
int run_one(int argc, char** argv) {
  if (argc < 9) {
    std::fprintf(stderr, "usage: %s one M N K transA transB threads reps [dtype]\n", argv[0]);
    return 2;
  }
  const int64_t M = std::atoll(argv[2]), N = std::atoll(argv[3]), K = std::atoll(argv[4]);
  const bool ta = std::atoi(argv[5]) != 0, tb = std::atoi(argv[6]) != 0;
  const int threads = std::atoi(argv[7]), reps = std::max(5, std::atoi(argv[8]));
  DType dt = DType::f32;
  if (argc > 9 && !std::strcmp(argv[9], "bf16")) dt = DType::bf16;
  if (argc > 9 && !std::strcmp(argv[9], "f16")) dt = DType::f16;
  if (M <= 0 || N <= 0 || K <= 0 || threads <= 0) {
    std::fprintf(stderr, "sizes and threads must be positive\n");
    return 2;
  }
  const size_t esz = lmf::dtype_size(dt);
  std::vector<char> A(M * K * esz), B(K * N * esz), C(M * N * esz);
  fill(A, dt, 7919);
  fill(B, dt, 104729);
  GemmParams p;
  p.M = M; p.N = N; p.K = K; p.dtype = dt;
  p.a = A.data(); p.rs_a = ta ? 1 : K; p.cs_a = ta ? M : 1;
  p.b = B.data(); p.rs_b = tb ? 1 : N; p.cs_b = tb ? K : 1;
  p.c = C.data(); p.rs_c = N;
  lmf::set_num_threads(threads);
  const double g = time_gemm(p, reps);
  std::printf("{\"gflops\": %.2f, \"M\": %lld, \"N\": %lld, \"K\": %lld, \"transA\": %d, \"transB\": %d, "
              "\"threads\": %d, \"dtype\": \"%s\", \"kernel\": \"%s\"}\n",
              g, static_cast<long long>(M), static_cast<long long>(N), static_cast<long long>(K), ta, tb, threads,
              lmf::dtype_name(dt), lmf::kernels::matmul_kernel_name(dt));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (const char* tier = std::getenv("LMF_BENCH_TIER")) lmf::set_cpu_tier(tier);
  if (argc > 1 && !std::strcmp(argv[1], "one")) return run_one(argc, argv);
  DType dt = DType::f32;
  if (argc > 1 && !std::strcmp(argv[1], "bf16")) dt = DType::bf16;
  if (argc > 1 && !std::strcmp(argv[1], "f16")) dt = DType::f16;
  const int reps = argc > 2 ? std::max(5, std::atoi(argv[2])) : 7;
  const int max_threads = argc > 3 ? std::min(2, std::max(1, std::atoi(argv[3]))) : 2;
  const int64_t M = 2048;
  const int64_t shapes[][2] = {{384, 1152}, {384, 1536}, {1536, 384}, {384, 8192}};
  const size_t esz = lmf::dtype_size(dt);
  std::printf("kernel %s, dtype %s\n", lmf::kernels::matmul_kernel_name(dt), lmf::dtype_name(dt));
  std::printf("%-34s %10s %10s\n", "case", "1 thread", "2 threads");
  for (auto& s : shapes) {
    const int64_t K = s[0], N = s[1];
    // X (M x K), W (K x N), Y / dY (M x N), all row-major; the values only need to be finite.
    std::vector<char> X(M * K * esz), W(K * N * esz), Y(M * N * esz), G(M * N * esz);
    fill(X, dt, 7919);
    fill(W, dt, 104729);
    fill(G, dt, 15485863);
    std::vector<char> dX(M * K * esz), dW(K * N * esz);
    struct Named { const char* name; GemmParams p; };
    GemmParams fwd;  // Y = X @ W
    fwd.M = M; fwd.N = N; fwd.K = K; fwd.dtype = dt;
    fwd.a = X.data(); fwd.rs_a = K; fwd.cs_a = 1;
    fwd.b = W.data(); fwd.rs_b = N; fwd.cs_b = 1;
    fwd.c = Y.data(); fwd.rs_c = N;
    GemmParams da = fwd;  // dX = dY @ W^T: (M x N) @ (N x K), W^T a transposed view
    da.N = K; da.K = N;
    da.a = G.data(); da.rs_a = N; da.cs_a = 1;
    da.b = W.data(); da.rs_b = 1; da.cs_b = N;
    da.c = dX.data(); da.rs_c = K;
    GemmParams db = fwd;  // dW = X^T @ dY: (K x M view) @ (M x N)
    db.M = K; db.N = N; db.K = M;
    db.a = X.data(); db.rs_a = 1; db.cs_a = K;
    db.b = G.data(); db.rs_b = N; db.cs_b = 1;
    db.c = dW.data(); db.rs_c = N;
    const Named cases[] = {{"fwd", fwd}, {"dA = dC @ B^T", da}, {"dB = A^T @ dC", db}};
    for (const Named& c : cases) {
      double g[2] = {0.0, 0.0};
      for (int t = 1; t <= max_threads; ++t) {
        lmf::set_num_threads(t);
        g[t - 1] = time_gemm(c.p, reps);
      }
      char name[96];
      std::snprintf(name, sizeof name, "%s M=%lld N=%lld K=%lld", c.name, static_cast<long long>(c.p.M),
                    static_cast<long long>(c.p.N), static_cast<long long>(c.p.K));
      std::printf("%-34s %10.1f %10.1f\n", name, g[0], g[1]);
      std::fflush(stdout);
    }
  }
  return 0;
}
