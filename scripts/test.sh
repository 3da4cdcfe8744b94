#!/usr/bin/env bash
# Runs every test of rrun on a fresh Debian machine, as root:
# installs what the tests need, builds the fixture images, runs cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=()
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || pkgs+=(busybox-static)
# netavark and aardvark-dns: bridge networking (the default --network); iptables: netavark's firewall;
# uidmap: newuidmap/newgidmap for the rootless tests (tests/rootless.rs); passt: pasta, an ordinary user's
# network; containernetworking-plugins: the pods' CNI in tests/kubernetes.rs
for pkg in docker-registry skopeo apache2-utils openssl libseccomp-dev netavark aardvark-dns iptables iproute2 uidmap passt fuse-overlayfs containernetworking-plugins; do
  dpkg-query -W -f="\${Status}" "$pkg" 2>/dev/null | grep -q "ok installed" || pkgs+=("$pkg")
done
for tool in zstd python3; do command -v "$tool" >/dev/null || pkgs+=("$tool"); done
if [ ${#pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "test.sh: installing ${pkgs[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${pkgs[@]}" >/dev/null
  else
    echo "test.sh: missing ${pkgs[*]} (run as root to install them)" >&2
  fi
fi
# pasta opens /dev/net/tun and fuse-overlayfs /dev/fuse as the user: udev makes them 0666, a host
# without udev may leave them 0600
if [ "$(id -u)" = 0 ] && [ -c /dev/net/tun ]; then chmod 0666 /dev/net/tun; fi
if [ "$(id -u)" = 0 ] && [ -c /dev/fuse ]; then chmod 0666 /dev/fuse; fi
bash rootfs-fixtures/build.sh
# CI=1: a test that cannot run here (no root, a program missing) fails instead of
# passing as SKIP (tests/common/mod.rs, `skip`); set CI=0 to allow the skips.
# PROPTEST_CASES: cases per property test (proptest's default, said here to bound them)
export CI="${CI:-1}" PROPTEST_CASES="${PROPTEST_CASES:-256}"
cargo test --all-targets "$@"
# doc examples compile (they need no root)
cargo test --doc "$@"
# the cgroup v2 backend, on a pure-v2 kernel booted under QEMU (this kind of host is v1/hybrid)
if [ "$(id -u)" = 0 ] && [ -z "${RRUN_SKIP_V2_VM:-}" ]; then
  bash scripts/v2-vm.sh
else
  echo "test.sh: SKIP the cgroup v2 VM checks (they need root; RRUN_SKIP_V2_VM is set)" >&2
fi
