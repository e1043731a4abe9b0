#!/usr/bin/env bash
# Builds and runs the C++ kernel tests (native/tests/*_test.cpp) through CMake, without Node.
# Uses only the CPU sources unless nvcc is found and CUDA sources are listed (then CUDA twins too).
set -euo pipefail
cd "$(dirname "$0")/.."
# LMF_NATIVE_CUDA=OFF keeps this build CPU-only (CI builds the CUDA variant in its own directory);
# LMF_CUDA_ARCHS narrows the CUDA architectures (e.g. 90) to save compile time.
cmake -S . -B build/native -DLMF_ADDON=OFF -DCMAKE_BUILD_TYPE=Release -DLMF_CUDA="${LMF_NATIVE_CUDA:-ON}" \
  ${LMF_CUDA_ARCHS:+-DLMF_CUDA_ARCHS=$LMF_CUDA_ARCHS} > /dev/null
cmake --build build/native -j "$(nproc 2>/dev/null || echo 2)"
ctest --test-dir build/native --output-on-failure
