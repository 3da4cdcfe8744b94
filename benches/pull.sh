#!/usr/bin/env bash
# Cold pull (download, verify, unpack) of a multi-layer image from a local
# registry into an empty store, beside `skopeo copy` + `umoci unpack` and
# beside `podman pull` into empty storage, in the same run, as ratios. Root.
#   benches/pull.sh [OCI_LAYOUT[:TAG]]
# Default image: the 4-layer debian fixture (236 MB unpacked, 104 MB gzip) that
# ../shared/bench/make-fixtures.sh builds into /tmp/rrun-bench/fixtures.
# Starts its own docker-registry on a free 127.0.0.1 port.
# Env: N=5, WORK=/tmp/rrun-bench-pull (WORK=/dev/shm/… leaves the disk out), TOOLS="rrun skopeo+umoci podman"
set -euo pipefail
cd "$(dirname "$0")/.."
IMG=${1:-/tmp/rrun-bench/fixtures/debian-oci:bookworm}
LAYOUT=${IMG%:*}; TAG=${IMG##*:}; [ "$TAG" = "$IMG" ] && TAG=latest
N=${N:-5}
WORK=${WORK:-/tmp/rrun-bench-pull}
TOOLS=${TOOLS:-rrun skopeo+umoci podman}
if [ ! -f "$LAYOUT/index.json" ]; then
  apt-get install -y -qq debootstrap skopeo >/dev/null
  bash ../shared/bench/make-fixtures.sh "$(dirname "$LAYOUT")" >/dev/null
fi
for t in docker-registry skopeo umoci podman; do
  command -v $t >/dev/null || { echo "installing $t" >&2; apt-get install -y -qq $t >/dev/null; }
done
cargo build --release -q
RRUN=$PWD/target/release/rrun
rm -rf "$WORK"; mkdir -p "$WORK"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$WORK/registry.yml" <<EOT
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/registry
http:
  addr: 127.0.0.1:$PORT
EOT
docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REG=$!
cleanup() {
  kill $REG 2>/dev/null || true
  for d in "$WORK"/run-podman-*; do [ -d "$d" ] && podman --root "$d/root" --runroot "$d/run" system reset -f >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
until curl -sf "http://127.0.0.1:$PORT/v2/" >/dev/null; do sleep 0.1; done
REF=127.0.0.1:$PORT/bench/image:$TAG
skopeo copy -q --dest-tls-verify=false "oci:$LAYOUT:$TAG" "docker://$REF"
# podman: isolated config (cgroupfs, no systemd) as in ../shared/bench/lib/podman-env.sh
export CONTAINERS_REGISTRIES_CONF=$WORK/podman-registries.conf
printf '[[registry]]\nlocation = "127.0.0.1:%s"\ninsecure = true\n' "$PORT" > "$CONTAINERS_REGISTRIES_CONF"
echo "# $REF from $LAYOUT: $(skopeo inspect --tls-verify=false "docker://$REF" | python3 -c 'import json,sys; m=json.load(sys.stdin); print(len(m["Layers"]), "layers")'); $(nproc) cores; WORK=$WORK"
echo "# each run pulls into a fresh, empty store; $N runs each, alternating; outputs removed and synced between runs"
args=()
for t in $TOOLS; do
  case $t in
    rrun) args+=("rrun=exec $RRUN --root $WORK/run-rrun-\$\$ pull -q $REF") ;;
    skopeo+umoci) args+=("skopeo+umoci=skopeo copy -q --src-tls-verify=false docker://$REF oci:$WORK/run-sk-\$\$:t && exec umoci unpack --image $WORK/run-sk-\$\$:t $WORK/run-sk-\$\$-rootfs >/dev/null 2>&1") ;;
    skopeo) args+=("skopeo-copy=exec skopeo copy -q --src-tls-verify=false docker://$REF oci:$WORK/run-sk-\$\$:t") ;;
    podman) args+=("podman=exec podman --root $WORK/run-podman-\$\$/root --runroot $WORK/run-podman-\$\$/run --storage-driver overlay pull -q $REF") ;;
  esac
done
python3 benches/timer.py -n "$N" --warmup 1 --between "for d in $WORK/run-podman-*; do [ -d \$d ] && podman --root \$d/root --runroot \$d/run system reset -f >/dev/null 2>&1; done; rm -rf $WORK/run-*; sync" "${args[@]}"
