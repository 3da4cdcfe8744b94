#!/usr/bin/env bash
# The main job, end to end, as root: build rrun, build the busybox image from
# Debian's busybox-static, load it into a demo store, list it, run it.
set -euo pipefail
cd "$(dirname "$0")/.."
# rrun links Debian's libseccomp (seccomp filters are compiled with it); containers get a bridge
# network by default, which netavark and aardvark-dns set up (with iptables)
pkgs=()
for pkg in libseccomp-dev netavark aardvark-dns iptables; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || pkgs+=("$pkg")
done
if [ ${#pkgs[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi
cargo build --release
bash rootfs-fixtures/build.sh
ROOT=${RRUN_DEMO_ROOT:-/tmp/rrun-demo}
rrun() { target/release/rrun --root "$ROOT" "$@"; }
rrun load -i rootfs-fixtures/out/busybox.tar
rrun images
rrun run --rm busybox echo hello
rrun run --rm --hostname demo busybox sh -c 'echo "I am PID $$ on $(hostname), and I see:"; ps'
