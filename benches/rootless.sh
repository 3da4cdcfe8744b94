#!/usr/bin/env bash
# Rootless figures: `rrun run --rm busybox true` as an ordinary user beside
# `podman run --rm` as the same user (podman 4 rootless with crun, no network),
# and rrun as root, as ratios (rrun rootless both on its default network, pasta
# when installed, and with --network none as podman); then unpacking the layered
# fixture (`load` of big.tar: decompress, verify, unpack) and pulling it cold
# from a local docker-registry on 127.0.0.1, as the user beside root. Run as root:
# it creates the user (USER_NAME, default rrun-rootless-bench) with
# subordinate ranges if needed. Env: N=20 runs, WORK=/tmp/rrun-bench-rootless,
# PROFILE=release|dev.
#
# crun 1.8 refuses hybrid cgroup hosts whose v2 mount owns a controller, so the
# benchmark runs in a private mount namespace with that mount hidden (rrun
# needs no such help; it runs there too so that all see the same).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-20}
WORK=${WORK:-/tmp/rrun-bench-rootless}
PROFILE=${PROFILE:-release}
USER_NAME=${USER_NAME:-rrun-rootless-bench}
[ "$(id -u)" = 0 ] || { echo "rootless.sh: run as root (it sets up the user)" >&2; exit 1; }
if [ -z "${_RRUN_BENCH_NS:-}" ] && [ -n "$(tr -d ' \n' 2>/dev/null < /sys/fs/cgroup/unified/cgroup.controllers)" ]; then
  exec unshare -m --propagation private env _RRUN_BENCH_NS=1 bash -c 'umount /sys/fs/cgroup/unified && exec "$0" "$@"' "$0" "$@"
fi
for t in newuidmap:uidmap crun:crun podman:podman pasta:passt docker-registry:docker-registry; do
  command -v "${t%%:*}" >/dev/null || { echo "installing ${t#*:}" >&2; apt-get install -y -qq "${t#*:}" >/dev/null; }
done
id "$USER_NAME" >/dev/null 2>&1 || useradd -m -s /bin/sh "$USER_NAME"
grep -q "^$USER_NAME:" /etc/subuid || usermod --add-subuids 900000-965535 "$USER_NAME"
grep -q "^$USER_NAME:" /etc/subgid || usermod --add-subgids 900000-965535 "$USER_NAME"
if [ "$PROFILE" = release ]; then cargo build --release -q; else cargo build -q; fi
bash rootfs-fixtures/build.sh
uid=$(id -u "$USER_NAME")
rm -rf "$WORK"; mkdir -p "$WORK/bin" "$WORK/rt"
# the user's state, and its processes, go at the end
cleanup() {
  [ -f "$WORK/rt/rrun/pause.pid" ] && kill -9 "$(cut -d' ' -f1 "$WORK/rt/rrun/pause.pid")" 2>/dev/null
  asuser podman system migrate >/dev/null 2>&1 || true
  rm -rf "$WORK" "/home/$USER_NAME/.local/share/containers" 2>/dev/null || true
}
trap cleanup EXIT
cp "target/$([ "$PROFILE" = release ] && echo release || echo debug)/rrun" "$WORK/bin/rrun"
cp rootfs-fixtures/out/busybox.tar rootfs-fixtures/out/big.tar "$WORK/bin/"
chmod -R a+rX "$WORK/bin"; chmod 755 "$WORK"
chown "$USER_NAME:" "$WORK/rt"; chmod 700 "$WORK/rt"
asuser() {
  setpriv --reuid="$uid" --regid="$(id -g "$USER_NAME")" --init-groups env -i HOME="/home/$USER_NAME" \
    PATH=/usr/bin:/bin XDG_RUNTIME_DIR="$WORK/rt" XDG_DATA_HOME="$WORK/data-$USER_NAME" "$@"
}
mkdir -p "$WORK/data-$USER_NAME"; chown "$USER_NAME:" "$WORK/data-$USER_NAME"
RRUN=$WORK/bin/rrun
PODMAN="podman --cgroup-manager=cgroupfs --events-backend=file --runtime crun"
asuser "$RRUN" load -q -i "$WORK/bin/busybox.tar" >/dev/null
asuser $PODMAN load -q -i "$WORK/bin/busybox.tar" >/dev/null 2>&1
"$RRUN" --root "$WORK/root-store" load -q -i "$WORK/bin/busybox.tar" >/dev/null
asuser "$RRUN" run --rm busybox true # the user namespace's pause process exists from here, as podman's
ASU="setpriv --reuid=$uid --regid=$(id -g "$USER_NAME") --init-groups env -i HOME=/home/$USER_NAME PATH=/usr/bin:/bin XDG_RUNTIME_DIR=$WORK/rt XDG_DATA_HOME=$WORK/data-$USER_NAME"
uname -r
echo "rrun ($PROFILE), $(podman --version), $(crun --version | head -1)"
echo "# run --rm busybox true: $N runs each, alternating; medians; ratio = median / rootless rrun's"
python3 benches/timer.py -n "$N" \
  "rrun-rootless=exec $ASU $RRUN run --rm --network none busybox true" \
  "rrun-rootless-pasta=exec $ASU $RRUN run --rm busybox true" \
  "podman-rootless=exec $ASU $PODMAN run --rm --network none busybox true" \
  "rrun-root=exec $RRUN --root $WORK/root-store run --rm --network none busybox true"
echo "# unpack the layered fixture (load big.tar), 5 runs each; ratio = median / root's"
python3 benches/timer.py -n 5 --warmup 1 \
  --between "$RRUN --root $WORK/root-store rmi -f big >/dev/null 2>&1; $ASU $RRUN rmi -f big >/dev/null 2>&1; true" \
  "root=exec $RRUN --root $WORK/root-store load -q -i $WORK/bin/big.tar" \
  "rootless=exec $ASU $RRUN load -q -i $WORK/bin/big.tar"
echo "# cold pull of the layered fixture from a local registry (127.0.0.1), 5 runs each; ratio = median / root's"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
  "$WORK/registry" "$PORT" > "$WORK/registry.yml"
docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REG=$!
trap 'kill $REG 2>/dev/null; cleanup' EXIT
until curl -sf "http://127.0.0.1:$PORT/v2/" >/dev/null; do sleep 0.1; done
REF=127.0.0.1:$PORT/bench/big:1
"$RRUN" --root "$WORK/root-store" load -q -i "$WORK/bin/big.tar" >/dev/null
"$RRUN" --root "$WORK/root-store" tag big "$REF"
"$RRUN" --root "$WORK/root-store" push "$REF" >/dev/null
python3 benches/timer.py -n 5 --warmup 1 \
  --between "rm -rf $WORK/pull-root; $ASU $RRUN rmi -f $REF >/dev/null 2>&1; sync" \
  "root=exec $RRUN --root $WORK/pull-root pull -q $REF" \
  "rootless=exec $ASU $RRUN pull -q $REF"
