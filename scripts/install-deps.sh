#!/usr/bin/env bash
# Installs, from Debian's packages, whatever the build and tests need and the
# machine lacks.  Safe to run again: it only installs what is missing.
#   scripts/install-deps.sh            build + test dependencies
#   scripts/install-deps.sh --fuzz     + clang and libFuzzer's runtime
#   scripts/install-deps.sh --bench    + the benchmark peers' tools
set -euo pipefail

pkgs=(build-essential cmake pkg-config liblmdb-dev lmdb-utils libxxhash-dev
      libedit-dev libcmocka-dev valgrind nodejs npm)
for arg in "$@"; do
  case "$arg" in
    --fuzz) pkgs+=(clang libclang-rt-14-dev) ;;
    --bench) pkgs+=(sqlite3 libsqlite3-dev nodejs npm gnuplot-nox hyperfine) ;;
    *) echo "install-deps: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  # (or its command is there: nodesource's nodejs provides npm, and conflicts with Debian's)
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || command -v "$p" >/dev/null || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
