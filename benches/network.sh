#!/usr/bin/env bash
# Bridge networking, rrun beside podman, both through netavark (+ iptables), in the same run:
#   p        `run --rm -p 127.0.0.1:PORT:80 busybox true`: a namespace, a veth on the bridge, an
#            address, NAT and a port forward set up and torn down around a container that exits at once;
#   bridge   `run --rm busybox true` on the default bridge network (no port);
#   none     the same with `--network none` (a namespace with lo only): bridge - none is the cost
#            of the network itself;
#   connect  `run -d -p 127.0.0.1:PORT:80 busybox httpd …`, then TCP connects to 127.0.0.1:PORT
#            until the server answers an HTTP request: "how long until I can reach my service"
#            (the container is removed after each run, untimed).
# Medians of N runs, alternating (benches/timer.py); then rrun's median / podman's for each kind.
# Takes about 8 minutes (N=20). Run as root. Env: N=20 runs, PORT=18080 (podman uses PORT+1), WORK=/tmp/rrun-bench-network,
# RRUN=path to a built rrun (default: cargo build --release here).
#
# podman is configured as tests/common/podman.rs configures it (a scratch store and config,
# cgroupfs, file events, bridge networking through netavark), with crun, its fastest runtime here.
# The first run of each kind creates the bridge and its firewall chains and the last one removes
# them (netavark does so with a network's last container); every run here is such a first and last.
# crun 1.8 refuses hybrid cgroup hosts whose v2 mount owns a controller, so the benchmark runs in
# a private mount namespace with that mount hidden (rrun runs there too, so both see the same host).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-20}
PORT=${PORT:-18080}
WORK=${WORK:-/tmp/rrun-bench-network}
if [ -z "${_RRUN_BENCH_NS:-}" ] && [ -n "$(tr -d ' \n' 2>/dev/null < /sys/fs/cgroup/unified/cgroup.controllers)" ]; then
  exec unshare -m --propagation private env _RRUN_BENCH_NS=1 bash -c 'umount /sys/fs/cgroup/unified && exec "$0" "$@"' "$0" "$@"
fi
need=()
for p in podman crun conmon netavark aardvark-dns iptables; do
  dpkg-query -W -f='${Status}' $p 2>/dev/null | grep -q 'ok installed' || need+=($p)
done
[ ${#need[@]} -eq 0 ] || { echo "installing ${need[*]}" >&2; apt-get install -y -qq "${need[@]}" >/dev/null; }
if [ -z "${RRUN:-}" ]; then cargo build --release -q; RRUN=$PWD/target/release/rrun; fi
[ -f rootfs-fixtures/out/busybox.tar ] || bash rootfs-fixtures/build.sh
rm -rf "$WORK"; mkdir -p "$WORK"
source benches/lib/podman.sh
trap bench_cleanup EXIT

"$RRUN" --root "$WORK/store" load -q -i rootfs-fixtures/out/busybox.tar >/dev/null
podman_scratch "$WORK/podman" bridge
# both work, and publish, before anything is timed
"$RRUN" --root "$WORK/store" run --rm -p "127.0.0.1:$PORT:80" busybox true
podman run --rm -p "127.0.0.1:$((PORT + 1)):80" "$PIMAGE" true

uname -r
echo "rrun $("$RRUN" --version | head -1 | cut -d' ' -f2), $(podman --version), $(crun --version | head -1), $(/usr/lib/podman/netavark --version 2>/dev/null || echo netavark)"
echo "# $N runs each, alternating; medians; ratio = median / rrun-p's median"
# podman's cleanup helpers (conmon, `podman container cleanup`) outlive its CLI, here by about 1.5 s:
# each run starts once they are gone (untimed), so that they do not slow the next one down
settle='for i in $(seq 500); do pgrep -x podman || pgrep -x conmon || pgrep -x netavark || break; sleep 0.02; done >/dev/null'
# connect: the container is started detached, then connects until its httpd answers (bounded: 10 s)
cat > "$WORK/reach.sh" <<'EOT'
# reach.sh PORT: connects to 127.0.0.1:PORT until an HTTP status line comes back
for i in $(seq 2000); do
  if exec 3<>"/dev/tcp/127.0.0.1/$1"; then
    printf 'GET / HTTP/1.0\r\n\r\n' >&3
    if read -r -t 2 line <&3 && [ -n "$line" ]; then exec 3<&-; exit 0; fi
    exec 3<&-
  fi 2>/dev/null
  sleep 0.005
done
exit 1
EOT
R="$RRUN --root $WORK/store"
RP=$PORT PP=$((PORT + 1)) CP=$((PORT + 2)) QP=$((PORT + 3))
httpd='httpd -f -p 80 -h /etc'
between="$settle; $R rm -f rweb >/dev/null 2>&1; podman rm -f -t 0 pweb >/dev/null 2>&1; $settle"
python3 benches/timer.py -n "$N" --between "$between" \
  "rrun-p=exec $R run --rm -p 127.0.0.1:$RP:80 busybox true" \
  "podman-p=exec podman run --rm -p 127.0.0.1:$PP:80 $PIMAGE true" \
  "rrun-bridge=exec $R run --rm busybox true" \
  "podman-bridge=exec podman run --rm $PIMAGE true" \
  "rrun-none=exec $R run --rm --network none busybox true" \
  "podman-none=exec podman run --rm --network none $PIMAGE true" \
  "rrun-connect=$R run -d --name rweb -p 127.0.0.1:$CP:80 busybox $httpd && exec bash $WORK/reach.sh $CP" \
  "podman-connect=podman run -d --name pweb -p 127.0.0.1:$QP:80 $PIMAGE $httpd && exec bash $WORK/reach.sh $QP" \
  | tee "$WORK/table"
echo "# rrun / podman (medians)"
awk '$1 ~ /^(rrun|podman)-/ { split($1, n, "-"); med[n[1], n[2]] = $3; kinds[n[2]] = 1 }
  END { for (k in kinds) if (med["podman", k] > 0)
          printf "%-8s rrun %8.1f ms  podman %8.1f ms  ratio %.2f\n", k, med["rrun", k], med["podman", k], med["rrun", k] / med["podman", k];
        printf "network setup (bridge - none): rrun %.1f ms, podman %.1f ms\n",
          med["rrun", "bridge"] - med["rrun", "none"], med["podman", "bridge"] - med["podman", "none"] }' "$WORK/table"
