#!/usr/bin/env bash
# Builds the standalone C++ kernel tests and benchmarks (no Node needed) into build/native-tests/.
# No -march flags: the SIMD tiers are selected at run time, exactly as in the addon.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build/native-tests}
mkdir -p "$OUT"
CXX=${CXX:-g++}
CXXFLAGS=${CXXFLAGS:-"-O3 -std=c++17 -pthread -Wall -Wextra"}
RUNTIME="native/runtime/thread_pool.cpp native/runtime/cpu_features.cpp"
MATMUL="native/kernels/matmul_cpu.cpp native/kernels/matmul_avx512.cpp native/kernels/matmul_avx2.cpp \
native/kernels/matmul_neon.cpp native/kernels/matmul_portable.cpp"

# Compile the shared objects once, then link each program.
objs=()
for src in $RUNTIME $MATMUL; do
  obj="$OUT/$(basename "${src%.cpp}").o"
  $CXX $CXXFLAGS -c "$src" -o "$obj"
  objs+=("$obj")
done
$CXX $CXXFLAGS native/tests/matmul_test.cpp "${objs[@]}" -o "$OUT/matmul_test"
$CXX $CXXFLAGS native/tests/matmul_bench.cpp "${objs[@]}" -o "$OUT/matmul_bench"
# The OpenBLAS peer is optional: built only where the library is installed (libopenblas-dev).
if echo 'int main(void){return 0;}' | ${CC:-gcc} -x c - -lopenblas -o /dev/null 2>/dev/null; then
  ${CC:-gcc} -O2 -Wall -Wextra native/tests/openblas_peer.c -o "$OUT/openblas_peer" -lopenblas
fi
echo "built into $OUT"
