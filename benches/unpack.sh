#!/usr/bin/env bash
# Load + unpack of a large multi-layer OCI image into an empty store, beside
# `umoci unpack` and GNU `tar -xzf` layer by layer (which skips whiteouts), in
# the same run, as ratios. Run as root.
#   benches/unpack.sh [OCI_LAYOUT[:TAG]]
# Default image: the 4-layer debian fixture (236 MB unpacked, 104 MB gzip,
# whiteouts, opaque dir, file->dir) that ../shared/bench/make-fixtures.sh
# builds with debootstrap into /tmp/rrun-bench/fixtures (built here if missing).
# Env: N=5 runs, WORK=/tmp/rrun-bench-unpack (put it on tmpfs to leave the disk out).
set -euo pipefail
cd "$(dirname "$0")/.."
IMG=${1:-/tmp/rrun-bench/fixtures/debian-oci:bookworm}
LAYOUT=${IMG%:*}; TAG=${IMG##*:}; [ "$TAG" = "$IMG" ] && TAG=latest
N=${N:-5}
WORK=${WORK:-/tmp/rrun-bench-unpack}
if [ ! -f "$LAYOUT/index.json" ]; then
  MK=../shared/bench/make-fixtures.sh
  [ -x "$MK" ] || [ -f "$MK" ] || { echo "no image at $LAYOUT and no $MK to build it" >&2; exit 1; }
  apt-get install -y -qq debootstrap skopeo >/dev/null
  bash "$MK" "$(dirname "$LAYOUT")" >/dev/null
fi
command -v umoci >/dev/null || apt-get install -y -qq umoci >/dev/null
cargo build --release -q
RRUN=$PWD/target/release/rrun
rm -rf "$WORK"; mkdir -p "$WORK"; trap 'rm -rf "$WORK"' EXIT
BLOBS=$(python3 - "$LAYOUT" "$TAG" <<'PY'
import json, os, sys
lay, tag = sys.argv[1], sys.argv[2]
idx = json.load(open(os.path.join(lay, "index.json")))
m = [m for m in idx["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name", "").endswith(tag)] or idx["manifests"]
man = json.load(open(os.path.join(lay, "blobs", *m[0]["digest"].split(":"))))
print(" ".join(os.path.join(lay, "blobs", *l["digest"].split(":")) for l in man["layers"]))
PY
)
gz=0; raw=0
for b in $BLOBS; do gz=$((gz + $(stat -c %s "$b"))); raw=$((raw + $(gzip -dc "$b" | wc -c))); done
echo "# $LAYOUT:$TAG: $(echo $BLOBS | wc -w) layers, $gz bytes compressed, $raw bytes uncompressed; $(nproc) cores"
echo "# rrun: verify both digests, decompress, unpack with whiteouts into an empty store"
echo "# $N runs each, alternating, caches warm, outputs removed and synced between runs"
python3 benches/timer.py -n "$N" --warmup 1 --between "rm -rf $WORK/run-*; sync" \
  "rrun=exec $RRUN --root $WORK/run-rrun-\$\$ load -q -i $LAYOUT" \
  "umoci=exec umoci unpack --image $LAYOUT:$TAG $WORK/run-umoci-\$\$ >/dev/null 2>&1" \
  "tar-xzf=D=$WORK/run-tar-\$\$; mkdir -p \$D && for b in $BLOBS; do tar -xzf \$b -C \$D 2>/dev/null; done; true"
