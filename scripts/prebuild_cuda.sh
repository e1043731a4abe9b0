#!/usr/bin/env bash
# Builds the CUDA addon of the optional package packages/cuda-linux-x64 (its lmforge.node) with CMake: the
# CPU kernels (portable, tiers chosen at run time) plus the CUDA ones, cudart static, cuBLASLt by dlopen,
# machine code for sm_80/86/89/90 and PTX of sm_90. Needs nvcc; no GPU (nothing runs here).
#
#   npm run build:prebuild-cuda                              the four architectures
#   LMF_CUDA_ARCHS=90 npm run build:prebuild-cuda            one (a quick check; the package needs all four)
#
# The Node headers come from npm's nodedir or beside the node binary (NODE_INCLUDE overrides): cmake-js would
# download them, and this build must work offline.
set -euo pipefail
cd "$(dirname "$0")/.."
archs=${LMF_CUDA_ARCHS:-"80-real;86-real;89-real;90"}
out=$PWD/packages/cuda-linux-x64
build=build/prebuild-cuda
inc=${NODE_INCLUDE:-}
if [[ -z $inc ]]; then
  for d in "${npm_config_nodedir:-/nonexistent}/include/node" "$(dirname "$(dirname "$(command -v node)")")/include/node"; do
    if [[ -f $d/node_api.h ]]; then inc=$d; break; fi
  done
fi
[[ -n $inc ]] || { echo "prebuild-cuda: Node headers (node_api.h) not found; set NODE_INCLUDE" >&2; exit 1; }
command -v nvcc > /dev/null || export PATH=$PATH:/usr/local/cuda/bin
start=$(date +%s)
mkdir -p "$build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DLMF_CUDA=ON "-DLMF_CUDA_ARCHS=$archs" \
  "-DCMAKE_JS_INC=$inc" "-DLMF_ADDON_OUT=$out" > "$build/configure.log"
grep -q "lmforge: CUDA ON" "$build/configure.log" || { echo "prebuild-cuda: CMake found no nvcc (see $build/configure.log)" >&2; exit 1; }
cmake --build "$build" --target lmforge -j "$(nproc 2> /dev/null || echo 2)"
strip --strip-unneeded "$out/lmforge.node"
echo "prebuild-cuda: $out/lmforge.node ($(du -h "$out/lmforge.node" | cut -f1), archs $archs) in $(($(date +%s) - start)) s"
