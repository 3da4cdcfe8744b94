#!/usr/bin/env bash
# rrun as an OCI runtime beside crun and runc, in the same run, on the same
# busybox `/bin/true` bundle (runc's default spec: pid, net, ipc, uts and mount
# namespaces, a cgroup, read-only rootfs):
#   run   : `RUNTIME run --bundle B ID` (create + start + wait + delete)
#   cycle : `RUNTIME create … && RUNTIME start … && RUNTIME delete -f …` (what engines do)
# medians of N alternating runs with ratios to rrun (benches/timer.py), and the
# peak RSS of one `run` of each (GNU time). Run as root. Env: N=30, WORK=/tmp/rrun-bench-oci.
#
# crun 1.8 refuses hybrid cgroup hosts whose v2 mount owns a controller, so the
# whole benchmark runs in a private mount namespace with that mount hidden
# (rrun needs no such help; it runs there too so that all three see the same).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-30}
WORK=${WORK:-/tmp/rrun-bench-oci}
if [ -z "${_RRUN_BENCH_NS:-}" ] && [ -n "$(tr -d ' \n' 2>/dev/null < /sys/fs/cgroup/unified/cgroup.controllers)" ]; then
  exec unshare -m --propagation private env _RRUN_BENCH_NS=1 bash -c 'umount /sys/fs/cgroup/unified && exec "$0" "$@"' "$0" "$@"
fi
for t in crun runc; do command -v $t >/dev/null || { echo "installing $t" >&2; apt-get install -y -qq $t >/dev/null; }; done
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
cargo build --release -q
bash rootfs-fixtures/build.sh
RRUN=$PWD/target/release/rrun
rm -rf "$WORK"; mkdir -p "$WORK/bundle/rootfs"
cleanup() {
  for rt in "$RRUN" crun runc; do
    for id in $($rt --root "$WORK/$(basename "$rt")" list -q 2>/dev/null); do
      $rt --root "$WORK/$(basename "$rt")" delete -f "$id" >/dev/null 2>&1 || true
    done
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
bash benches/true-bundle.sh "$WORK/bundle"
B=$WORK/bundle
uname -r
echo "rrun $("$RRUN" --version | head -1 | cut -d' ' -f2), $(crun --version | head -1), $(runc --version | head -1)"
for rt in "$RRUN" crun runc; do
  "$rt" --root "$WORK/$(basename "$rt")" run --bundle "$B" "chk-$$" || { echo "FAIL: $rt run"; exit 1; }
done
echo "# run: $N runs each, alternating; medians; ratio = median / rrun's median"
python3 benches/timer.py -n "$N" \
  "rrun=exec $RRUN --root $WORK/rrun run --bundle $B r-\$\$" \
  "crun=exec crun --root $WORK/crun run --bundle $B r-\$\$" \
  "runc=exec runc --root $WORK/runc run --bundle $B r-\$\$"
echo "# create + start + delete -f"
cyc() { echo "$1 --root $WORK/$2 create --bundle $B c-\$\$ && $1 --root $WORK/$2 start c-\$\$ && $1 --root $WORK/$2 delete -f c-\$\$"; }
python3 benches/timer.py -n "$N" "rrun=$(cyc "$RRUN" rrun)" "crun=$(cyc crun crun)" "runc=$(cyc runc runc)"
echo "# peak RSS of one run (GNU time, the runtime process tree only), median of 5"
for rt in "$RRUN" crun runc; do
  xs=$(for i in 1 2 3 4 5; do /usr/bin/time -f %M "$rt" --root "$WORK/$(basename "$rt")" run --bundle "$B" "rss-$i-$$" 2>&1 >/dev/null | tail -1; done | sort -n | sed -n 3p)
  printf '%-6s %s KiB\n' "$(basename "$rt")" "$xs"
done
