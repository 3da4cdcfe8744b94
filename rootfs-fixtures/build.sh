#!/usr/bin/env bash
# Builds the test images (see build.py) into rootfs-fixtures/out, or OUTDIR.
# Installs Debian's busybox-static and zstd when missing. Safe to run
# concurrently (flock) and cheap when nothing changed (build.py keeps a stamp).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE/out}
mkdir -p "$OUT"
need=()
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || need+=(busybox-static)
command -v zstd >/dev/null || need+=(zstd)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  echo "rootfs-fixtures: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi
exec 9>"$OUT/.lock"
flock 9
python3 "$HERE/build.py" "$OUT"
