#!/usr/bin/env bash
# Start-up latency of `rrun run --rm busybox true` (image already unpacked:
# overlay mount, spec from the image, namespaces, pivot_root, exec, cleanup)
# beside `crun run` and `runc run` of an equivalent /bin/true bundle, in the
# same run, as ratios. rrun's default is a bridge network (netavark sets up and
# tears down a veth, an address and NAT around the container); `rrun-none` is the
# same run with `--network none`, a new namespace with lo only, as the bundle has.
# Run as root. Env: N=30 runs, WORK=/tmp/rrun-bench-start.
#
# crun 1.8 refuses hybrid cgroup hosts whose v2 mount owns a controller, so the
# whole benchmark runs in a private mount namespace with that mount hidden
# (rrun needs no such help; it runs there too so that all three see the same).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-30}
WORK=${WORK:-/tmp/rrun-bench-start}
if [ -z "${_RRUN_BENCH_NS:-}" ] && [ -n "$(tr -d ' \n' 2>/dev/null < /sys/fs/cgroup/unified/cgroup.controllers)" ]; then
  exec unshare -m --propagation private env _RRUN_BENCH_NS=1 bash -c 'umount /sys/fs/cgroup/unified && exec "$0" "$@"' "$0" "$@"
fi
for t in crun runc; do command -v $t >/dev/null || { echo "installing $t" >&2; apt-get install -y -qq $t >/dev/null; }; done
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
cargo build --release -q
bash rootfs-fixtures/build.sh
RRUN=$PWD/target/release/rrun
rm -rf "$WORK"; mkdir -p "$WORK/bundle/rootfs"
trap 'rm -rf "$WORK"' EXIT
"$RRUN" --root "$WORK/store" load -q -i rootfs-fixtures/out/busybox.tar >/dev/null
# the same busybox rootfs as a plain directory for the bundle runtimes
bash benches/true-bundle.sh "$WORK/bundle"
uname -r
echo "rrun $("$RRUN" --version | head -1 | cut -d' ' -f2), $(crun --version | head -1), $(runc --version | head -1)"
echo "# $N runs each, alternating; medians; ratio = median / rrun's median"
python3 benches/timer.py -n "$N" \
  "rrun=exec $RRUN --root $WORK/store run --rm busybox true" \
  "rrun-none=exec $RRUN --root $WORK/store run --rm --network none busybox true" \
  "crun=exec crun --root $WORK/crun run --bundle $WORK/bundle b-\$\$" \
  "runc=exec runc --root $WORK/runc run --bundle $WORK/bundle b-\$\$"
echo "# peak RSS of one run (GNU time, the runtime process tree only)"
for rt in rrun crun runc; do
  case $rt in
    rrun) cmd=("$RRUN" --root "$WORK/store" run --rm busybox true) ;;
    *) cmd=("$rt" --root "$WORK/$rt" run --bundle "$WORK/bundle" "rss-$rt") ;;
  esac
  printf '%-6s %s KiB\n' "$rt" "$(/usr/bin/time -f %M "${cmd[@]}" 2>&1 >/dev/null | tail -1)"
done
