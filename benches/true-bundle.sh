#!/usr/bin/env bash
# benches/true-bundle.sh DIR: an OCI bundle in DIR whose process is /bin/true:
# the busybox fixture's layer as rootfs (read-only), runc's default config.json.
# Shared by start-latency.sh and oci.sh so that every runtime runs the same bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:?usage: true-bundle.sh DIR}
mkdir -p "$DIR/rootfs"
python3 - rootfs-fixtures/out/busybox-oci "$DIR/rootfs" <<'PY'
import json, os, sys, tarfile
lay, dest = sys.argv[1], sys.argv[2]
idx = json.load(open(os.path.join(lay, "index.json")))
man = json.load(open(os.path.join(lay, "blobs", *idx["manifests"][0]["digest"].split(":"))))
for l in man["layers"]:
    with tarfile.open(os.path.join(lay, "blobs", *l["digest"].split(":"))) as t:
        t.extractall(dest, filter="fully_trusted")
PY
(cd "$DIR" && runc spec && python3 - <<'PY'
import json
c = json.load(open("config.json"))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
c["root"] = {"path": "rootfs", "readonly": True}
json.dump(c, open("config.json", "w"), indent=1)
PY
)
