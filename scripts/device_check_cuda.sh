#!/usr/bin/env bash
# Call 1 of the GPU check (docs/GPU_CHECK.md): the C++ side, no Node. On the device machine (16 cores, one
# H100 or H200, nvcc 13, driver 580), in one call of the device tool:
#
#   run(command="bash scripts/device_check_cuda.sh", kind="nvidia-h100-x1", timeout_s=360)    no carry
#
# 1. the driver's CUDA version against the toolkit's (the build and the tests are skipped when it is too old);
# 2. builds only the CUDA test programs (CMake target cuda_tests, sm_90): not the addon, not the CPU tests;
# 3. runs cuda_launch_test, cuda_twins_test (every CUDA twin, the GEMM engine check, the 8.4M-row norm),
#    cuda_attention_test and cuda_optim_test with LMF_REQUIRE_CUDA=1, so none of them can pass by skipping,
#    and the attention TFLOP/s bench (cuda_attention_test --bench);
# 4. compute-sanitizer memcheck and racecheck on the small cases (--quick) of the attention and optimizer
#    tests (a device that refuses the sanitizer, as gVisor H200 machines did, makes those steps SKIP);
# 5. cuda_bench: GEMM TFLOP/s with the engine each GEMM ran on, and the kernel families' bandwidth.
# Each step is timed and summed up in one line; the whole run keeps within LMF_CHECK_BUDGET_S (300 s) of the
# 360 s call (later steps are skipped rather than the call cut), so that both calls and one machine start
# fit the 15 minutes of device time. Results under $OUT (4 files): cuda_log.txt (everything printed),
# summary.txt, attention_bench.json, cuda_bench.json. The exit status is the number of failed steps.
#
# Here (no GPU) `LMF_CHECK_DRY=1 LMF_CHECK_BUDGET_S=1500 LMF_CHECK_TIME_SCALE=4 bash scripts/device_check_cuda.sh` is the dry run: the
# driver check fails, the same targets build (slowly, on 2 cores) into build/device-cuda, and every CUDA
# test fails because LMF_REQUIRE_CUDA=1 - which is the point of it.
set -uo pipefail
LMF_CHECK_BUDGET_S=${LMF_CHECK_BUDGET_S:-300}
source "$(dirname "$0")/device_check_lib.sh"

# compute-sanitizer on one program, every buffer its own exact cudaMalloc (LMF_CUDA_NO_CACHE=1) so that
# memcheck sees where it ends. Status 77 (skip) when the sanitizer cannot run on this device at all: then it
# prints no summary line.
sanitize() {
  local tool=$1 log rc
  shift
  log=$(mktemp)
  LMF_CUDA_NO_CACHE=1 compute-sanitizer --tool "$tool" --error-exitcode 86 --print-limit 20 "$@" > "$log" 2>&1
  rc=$?
  grep -E "^=========|FAIL|passed" "$log" | tail -25
  if ! grep -qE "(ERROR|RACECHECK) SUMMARY" "$log"; then
    echo "compute-sanitizer did not run on this device (status $rc):"
    head -5 "$log"
    return 77
  fi
  return "$rc"
}

main() {
  export LMF_REQUIRE_CUDA=1
  export PATH="$PATH:/usr/local/cuda/bin"
  export CUDACXX=${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
  local bin=build/device-cuda jobs
  jobs=$(nproc 2> /dev/null || echo 4)

  step "driver vs toolkit" 30 "$(declare -f machine_check cuda_version_num); machine_check"
  local machine_ok=$?
  find_cublaslt
  # LMF_CHECK_DRY=1 goes on without a usable driver: a dry run of the build and of the failing tests here.
  if ((machine_ok != 0)) && [[ ${LMF_CHECK_DRY:-} != 1 ]]; then
    record SKIP "build and CUDA tests" 0 "the driver cannot run what this toolkit builds"
    finish "GPU check, call 1"
  fi

  # Ninja and cmake-js's C++ flags, as call 2's cmake-js configures this same folder: on a machine still warm
  # from this call it then compiles only the binding (elementwise_cpu.cpp alone takes a minute or two).
  local gen=""
  command -v ninja > /dev/null && [[ ! -f $bin/CMakeCache.txt ]] && gen="-G Ninja"
  step "build the CUDA tests (sm_90, -j$jobs)" 240 "
    cmake -S . -B $bin $gen -DLMF_ADDON=OFF -DLMF_CUDA_ARCHS=90 -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS=-DBUILDING_NODE_EXTENSION \
      > $bin.configure.txt 2>&1 || { cat $bin.configure.txt; exit 1; }
    grep -q 'lmforge: CUDA ON' $bin.configure.txt || { echo 'CMake did not enable CUDA (nvcc not found?)'; cat $bin.configure.txt; exit 1; }
    cmake --build $bin -j $jobs --target cuda_tests 2>&1 | tail -15"
  if (($? != 0)); then
    record SKIP "CUDA tests" 0 "the build failed"
    finish "GPU check, call 1"
  fi

  step "cuda_launch_test (host-side launch arithmetic)" 30 "$bin/cuda_launch_test"
  step "cuda_twins_test (twins, GEMM engine, 8.4M-row norm)" 90 "$bin/cuda_twins_test"
  step "cuda_attention_test" 90 "$bin/cuda_attention_test"
  step "cuda_optim_test" 60 "$bin/cuda_optim_test"
  step "attention TFLOP/s (bf16 causal, T 1k..16k)" 60 "$bin/cuda_attention_test --bench $OUT/attention_bench.json"

  local san
  san="$(declare -f sanitize); sanitize"
  step "memcheck: attention (--quick)" 60 "$san memcheck $bin/cuda_attention_test --quick"
  step "racecheck: attention (--quick)" 90 "$san racecheck $bin/cuda_attention_test --quick"
  step "memcheck: optimizers (--quick)" 45 "$san memcheck $bin/cuda_optim_test --quick"
  step "racecheck: optimizers (--quick)" 45 "$san racecheck $bin/cuda_optim_test --quick"
  step "cuda_bench (GEMM engines and TFLOP/s, bandwidth)" 60 \
    "$bin/cuda_bench $OUT/cuda_bench.json > $bin.bench.txt; rc=\$?; grep -v '^ ' $bin.bench.txt | head -40; exit \$rc"

  finish "GPU check, call 1"
}

main 2>&1 | tee "$OUT/cuda_log.txt"
exit "${PIPESTATUS[0]}"
