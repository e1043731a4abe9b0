#!/usr/bin/env bash
# Incremental rebuild of the addon with node-gyp: regenerates the Makefiles (the source list may have
# changed) and recompiles only what changed, on every core. Concurrent calls wait for each other, so
# several shells can rebuild safely. Run it through npm (npm puts its node-gyp on PATH). `npm run build:native -- --clean` starts from scratch.
set -euo pipefail
cd "$(dirname "$0")/.."
run() {
  if [[ "${1:-}" == "--clean" ]]; then node-gyp clean; fi
  node-gyp configure
  JOBS=max node-gyp build
}
if command -v flock > /dev/null; then
  exec 9> "${TMPDIR:-/tmp}/lmforge-build.lock"
  flock 9
fi
run "$@"
