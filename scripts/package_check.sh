#!/usr/bin/env bash
# The package as a user gets it (.ci/run runs this after npm test): builds the CPU prebuild, packs, and installs
# the tarball into an empty project with the compilers hidden and --ignore-scripts. There the prebuild must
# load, `npx lmforge train --steps 20` run, scripts/prebuild_smoke.mjs pass and the consumer project
# (test/fixtures/consumer, as ESM and as nodenext) typecheck against the installed .d.ts. Then the source-build fallback:
# `npm install --build-from-source` of the same tarball. With qemu-user (installed here when CI=true), the
# prebuild also runs on CPU models without AVX-512 and without AVX (scripts/prebuild_qemu.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lmforge-package.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
secs() { echo $(($(date +%s) - $1)); }

echo "== CPU prebuild (prebuildify, N-API, portable)"
npm run --silent build:prebuild
echo "== npm pack"
tgz=$tmp/$(npm pack --silent --pack-destination "$tmp" | tail -1)
echo "$(basename "$tgz"): $(du -k "$tgz" | cut -f1) KiB packed; prebuilds: $(tar tzf "$tgz" | grep '\.node$' | tr '\n' ' ')"

# PATH without compilers, make or Python: links to everything else on PATH (node and npm live beside gcc).
nocc=$tmp/nocc
mkdir "$nocc"
IFS=: read -ra dirs <<< "$PATH"
for d in "${dirs[@]}"; do
  for f in "$d"/*; do
    n=${f##*/}
    case $n in
      cc | c++ | gcc | g++ | gcc-* | g++-* | *-gcc | *-g++ | *-gcc-* | *-g++-* | clang* | make | gmake | cmake | python | python3 | python3.*) continue ;;
    esac
    if [[ -x $f && ! -e $nocc/$n ]]; then ln -s "$f" "$nocc/$n"; fi
  done
done
for tool in cc c++ g++ make python3; do
  if PATH=$nocc command -v "$tool" > /dev/null; then echo "package check: $tool is still on the reduced PATH" >&2; exit 1; fi
done

echo "== install the tarball: no compiler, --ignore-scripts"
app=$tmp/app
mkdir "$app"
echo '{ "name": "app", "private": true, "type": "module" }' > "$app/package.json"
start=$(date +%s)
(cd "$app" && PATH=$nocc npm install --ignore-scripts --no-audit --no-fund --loglevel=error "$tgz")
echo "install: $(secs "$start") s"
# With scripts on, as most users install: the install script finds that the prebuild loads and builds nothing.
(cd "$app" && PATH=$nocc npm rebuild lmforge --loglevel=error)
(
  cd "$app"
  export PATH=$nocc
  node --input-type=module -e "
    import { backendInfo } from 'lmforge';
    const b = backendInfo();
    console.log(JSON.stringify(b));
    if (b.origin !== 'prebuilt' || !b.path.includes('prebuilds')) throw new Error('the prebuild did not load');"
  npx lmforge info
  start=$(date +%s)
  npx lmforge train --steps 20 | tail -4
  echo "train --steps 20: $(secs "$start") s"
  node "$repo/scripts/prebuild_smoke.mjs" "$app/node_modules/lmforge"
)

echo "== consumer typecheck (strict, skipLibCheck false, ES2022, no @types/node)"
if [[ -e $app/node_modules/@types/node ]]; then echo "package check: @types/node got installed with lmforge" >&2; exit 1; fi
cp -r test/fixtures/consumer "$tmp/consumer"
ln -s "$app/node_modules" "$tmp/consumer/node_modules"
for m in esm nodenext; do
  node node_modules/typescript/bin/tsc -p "$tmp/consumer/tsconfig.$m.json"
  echo "consumer ($m): ok"
done

if [[ ${CI:-} == true ]] && ! command -v qemu-x86_64 > /dev/null && [[ $(id -u) == 0 ]]; then
  echo "== apt-get install qemu-user"
  (apt-get update -qq && apt-get install -y -qq qemu-user > /dev/null) || echo "qemu-user could not be installed"
fi
if command -v qemu-x86_64 > /dev/null && [[ $(uname -m) == x86_64 ]]; then
  echo "== the prebuild under qemu-x86_64 (Haswell: AVX2; Nehalem: no AVX)"
  bash scripts/prebuild_qemu.sh "$app/node_modules/lmforge"
else
  echo "== qemu check skipped: qemu-x86_64 not found"
fi

echo "== npm install --build-from-source (the fallback where no prebuild fits)"
src=$tmp/src
mkdir "$src"
echo '{ "name": "src", "private": true, "type": "module" }' > "$src/package.json"
start=$(date +%s)
(cd "$src" && npm install --build-from-source --no-audit --no-fund --loglevel=error "$tgz")
echo "install --build-from-source: $(secs "$start") s"
(cd "$src" && node --input-type=module -e "
  import { backendInfo, matmul, ones } from 'lmforge';
  const b = backendInfo();
  if (b.origin !== 'source') throw new Error('expected the addon built from source, got ' + JSON.stringify(b));
  console.log('source build loads:', b.path, matmul(ones([2, 3]), ones([3, 2])).dataSync().join(' '));")
echo "package check: ok"
