# Sourced by scripts/device_check_cuda.sh and scripts/device_check_node.sh (the two calls of the GPU check,
# docs/GPU_CHECK.md): the output folder, a time budget, steps that are timed and summed up in one line
# each, the driver-vs-toolkit check and where cuBLASLt is.
#
# A step runs a command string under `timeout`, capped by what is left of the budget (LMF_CHECK_BUDGET_S,
# so the script always ends, with its summary, before the device call's timeout_s). Exit status 77 from a
# step means "skipped" (compute-sanitizer refused by the device, say); any other non-zero status fails it.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
mkdir -p build  # a fresh device machine has none; the steps keep their logs beside their build folders
OUT=${OUT:-$root/build/device-out}
mkdir -p "$OUT"
budget=${LMF_CHECK_BUDGET_S:-300}
time_scale=${LMF_CHECK_TIME_SCALE:-1}  # multiplies every step's limit: a dry run on 2 cores needs about 4
t_start=$SECONDS
summary=()
failed=0

# record STATUS NAME SECONDS NOTE: one summary line (printed now, and again at the end).
record() {
  local line
  line=$(printf '%-4s %-52s %5ss  %s' "$1" "$2" "$3" "$4")
  summary+=("$line")
  echo "--- $line"
  [[ $1 == FAIL ]] && failed=$((failed + 1))
  return 0
}

# step NAME LIMIT_S 'COMMAND': runs COMMAND (bash) with at most LIMIT_S seconds, or less when the budget
# is nearly spent; with under 20 s left it is skipped. Returns the command's status.
step() {
  local name=$1 limit=$(($2 * time_scale)) cmd=$3
  local left=$((budget - (SECONDS - t_start) - 10))
  if ((left < 20)); then
    record SKIP "$name" 0 "out of time (budget ${budget} s)"
    return 124
  fi
  ((limit > left)) && limit=$left
  echo
  echo "=== $name (at most ${limit} s; $(date +%T))"
  local t0=$SECONDS rc
  timeout --kill-after=5 "$limit" bash -c "set -o pipefail; $cmd"
  rc=$?
  local dt=$((SECONDS - t0))
  if ((rc == 0)); then record PASS "$name" "$dt" ""
  elif ((rc == 77)); then record SKIP "$name" "$dt" "see the log above"
  elif ((rc == 124 || rc == 137)); then record FAIL "$name" "$dt" "timed out after ${limit} s"
  else record FAIL "$name" "$dt" "exit status $rc"
  fi
  return "$rc"
}

# Prints the summary, writes it to $OUT/summary.txt and exits with the number of failed steps.
finish() {
  {
    echo
    echo "=== summary ($1, $((SECONDS - t_start)) s of ${budget} s budget)"
    printf '%s\n' "${summary[@]}"
    echo "$failed step(s) failed"
  } | tee "$OUT/summary.txt"
  exit "$failed"
}

# "13.0" -> 13000, as cudaDriverGetVersion and CUDART_VERSION write versions.
cuda_version_num() { awk -F. '{ printf "%d", $1 * 1000 + $2 * 10 }' <<< "$1"; }

# The driver's CUDA version (nvidia-smi) against the toolkit's (nvcc): a driver of an older major version
# cannot run what this toolkit builds, and then nothing else is worth running.
machine_check() {
  if ! command -v nvidia-smi > /dev/null; then
    echo "no nvidia-smi: this machine has no NVIDIA driver"
    return 1
  fi
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader
  local drv tk
  drv=$(nvidia-smi | sed -n 's/.*CUDA Version: *\([0-9][0-9.]*\).*/\1/p' | head -1)
  tk=$(nvcc --version 2> /dev/null | sed -n 's/.*release \([0-9][0-9.]*\),.*/\1/p')
  echo "the driver supports CUDA ${drv:-?}; the toolkit (nvcc) is CUDA ${tk:-?}"
  if [[ -z $drv || -z $tk ]]; then
    echo "cannot read both versions"
    return 1
  fi
  local d t
  d=$(cuda_version_num "$drv")
  t=$(cuda_version_num "$tk")
  if ((d / 1000 < t / 1000)); then
    echo "the driver (CUDA $drv) is older than the toolkit's major version (CUDA $tk): programs built here cannot run; use a toolkit of CUDA ${drv%%.*}"
    return 1
  fi
  ((d < t)) && echo "note: the driver is older than the toolkit within CUDA ${tk%%.*} (minor-version compatibility: SASS runs, newer PTX cannot be JIT-compiled)"
  return 0
}

# cuBLASLt: the toolkit's, or the one PyTorch's wheels carry (nvidia-cublas); dlopen finds it on LD_LIBRARY_PATH.
find_cublaslt() {
  local lt
  lt=$(ls /usr/local/cuda*/lib64/libcublasLt.so.1[23] /usr/local/cuda*/targets/*/lib/libcublasLt.so.1[23] 2> /dev/null | head -1)
  [[ -z $lt ]] && lt=$(ls "$(python3 -c 'import nvidia.cublas; print(list(nvidia.cublas.__path__)[0])' 2> /dev/null)"/lib/libcublasLt.so.1[23] 2> /dev/null | head -1)
  [[ -z $lt ]] && lt=$(timeout 20 find / -xdev \( -path /proc -o -path /sys \) -prune -o -name 'libcublasLt.so.1[23]' -print 2> /dev/null | head -1)
  if [[ -n $lt ]]; then
    export LD_LIBRARY_PATH="$(dirname "$lt")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "cuBLASLt: $lt"
  else
    echo "cuBLASLt: not found (GEMMs run the fallback kernel, and the engine check fails)"
  fi
}
