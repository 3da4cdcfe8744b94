#!/usr/bin/env bash
# Kubernetes pod start through containerd's CRI, handler rrun beside runc and crun in one run:
#   pod start : RunPodSandbox + CreateContainer + StartContainer of one `sleep` container,
#               until ContainerStatus says it runs (CNI bridge + host-local included: the
#               same for every handler)
#   burst     : 20 such pods started at once, until all run
# Medians of alternating handlers with ratios to runc. The CRI client and the containerd it
# starts (own root/state/socket, CRI on, cgroupfs, local pause image) are tests/kubernetes.rs's:
# this runs its ignored test `cri_pod_start_bench`, with rrun's release build as the handler.
# Run as root. Env: N=15 (single pods per handler), BURSTS=3, HANDLERS=runc,rrun,crun.
#
# crun 1.8 refuses hybrid cgroup hosts whose v2 mount owns a controller, so the whole
# benchmark (containerd, shims, runtimes) runs in a private mount namespace with that mount
# hidden (rrun and runc need no such help; they run there too so that all three see the same).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${_RRUN_BENCH_NS:-}" ] && [ -n "$(tr -d ' \n' 2>/dev/null < /sys/fs/cgroup/unified/cgroup.controllers)" ]; then
  exec unshare -m --propagation private env _RRUN_BENCH_NS=1 bash -c 'umount /sys/fs/cgroup/unified && exec "$0" "$@"' "$0" "$@"
fi
HANDLERS=${HANDLERS:-runc,rrun,crun}
for pkg in containerd runc crun containernetworking-plugins; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || apt-get install -y -qq "$pkg" >/dev/null
done
cargo build --release -q --bin rrun
bash rootfs-fixtures/build.sh
bin=$(cargo test -q --test kubernetes --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "kubernetes" and m.get("executable"): print(m["executable"])')
case ",$HANDLERS," in *,crun,*) export RRUN_K8S_CRUN=$(command -v crun) ;; esac
RRUN_K8S_BIN=$PWD/target/release/rrun RRUN_K8S_HANDLERS=$HANDLERS RRUN_K8S_N=${N:-15} RRUN_K8S_BURSTS=${BURSTS:-3} \
  "$bin" --ignored --exact cri_pod_start_bench --nocapture --test-threads 1 2>/dev/null | grep -v '^test \|^running \|^$\|^ok$\|test result'
