#!/usr/bin/env bash
# Portability check of the CPU prebuild: runs `lmforge info` and scripts/prebuild_smoke.mjs under user-mode
# emulation (Debian's qemu-user: apt-get install qemu-user) on CPU models without AVX-512 and without AVX,
# so that an instruction the model lacks dies of SIGILL, and checks that the kernel tier follows the model.
#
#   bash scripts/prebuild_qemu.sh [PACKAGE_DIR]      PACKAGE_DIR: an installed lmforge (default: this checkout)
#
# PREBUILDS_ONLY=1 makes node-gyp-build skip build/, so that the prebuild is what runs. Emulated Node is slow
# (about a minute for both models on 2 cores): this is not part of `npm test`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pkg=$(cd "${1:-$here/..}" && pwd)
command -v qemu-x86_64 > /dev/null || { echo "prebuild_qemu: qemu-x86_64 not found (apt-get install qemu-user)" >&2; exit 1; }
[[ $(uname -m) == x86_64 ]] || { echo "prebuild_qemu: x86-64 hosts only" >&2; exit 1; }
node=$(command -v node)
fail=0
# model: the kernel tier it must get. Haswell: AVX2 and FMA, no AVX-512. Nehalem: SSE4.2, no AVX at all.
for pair in Haswell:avx2 Nehalem:scalar; do
  model=${pair%%:*} tier=${pair##*:}
  start=$(date +%s)
  # TCG warns about CPUID bits it does not emulate (TSX and the like): noise, dropped.
  info=$(PREBUILDS_ONLY=1 qemu-x86_64 -cpu "$model" "$node" "$pkg/dist/cli/main.js" info 2>&1 | grep -v "TCG doesn't support") || true
  smoke=$(PREBUILDS_ONLY=1 LMF_SMOKE_TIER=$tier qemu-x86_64 -cpu "$model" "$node" "$here/prebuild_smoke.mjs" "$pkg" 2>&1 | grep -v "TCG doesn't support") || true
  if grep -q "^tier: *$tier;" <<< "$info" && grep -q "^binary: .*prebuilds/" <<< "$info" && grep -q "^smoke ok$" <<< "$smoke"; then
    echo "prebuild_qemu: $model ok, tier $tier, $(($(date +%s) - start)) s"
  else
    echo "prebuild_qemu: $model FAILED (expected tier $tier from the prebuild)"
    printf '%s\n' "$info" "$smoke" | sed 's/^/  /'
    fail=1
  fi
done
exit $fail
