#!/usr/bin/env bash
# Builds and runs the C++ kernel tests (native/tests/*_test.cpp) through CMake, without Node.
# Uses only the CPU sources unless nvcc is found and CUDA sources are listed (then CUDA twins too).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build/native -DLMF_ADDON=OFF -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build/native -j "$(nproc 2>/dev/null || echo 2)"
ctest --test-dir build/native --output-on-failure
