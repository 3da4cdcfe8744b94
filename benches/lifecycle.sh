#!/usr/bin/env bash
# Detached container lifecycle, rrun beside podman (crun, conmon) in the same run:
#   1. wall time of `run -d busybox sleep` + `stop -t 0` + `rm`, per phase (median of N cycles),
#      and the peak RSS of each CLI process (GNU time);
#   2. 50 concurrent detached containers: time to start them all, and the memory
#      of what stays resident per container (rrun's monitors, podman's conmons):
#      RSS and PSS summed over all of them (PSS counts shared pages once).
# Run as root. Env: N=10 cycles, COUNT=50 containers, WORK=/tmp/rrun-bench-lifecycle.
#
# crun 1.8 refuses hybrid cgroup hosts whose v2 mount owns a controller, so the
# benchmark runs in a private mount namespace with that mount hidden (rrun
# needs no such help; it runs there too so that both see the same host).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-10}
COUNT=${COUNT:-50}
WORK=${WORK:-/tmp/rrun-bench-lifecycle}
if [ -z "${_RRUN_BENCH_NS:-}" ] && [ -n "$(tr -d ' \n' 2>/dev/null < /sys/fs/cgroup/unified/cgroup.controllers)" ]; then
  exec unshare -m --propagation private env _RRUN_BENCH_NS=1 bash -c 'umount /sys/fs/cgroup/unified && exec "$0" "$@"' "$0" "$@"
fi
need=()
for p in podman crun conmon time; do dpkg-query -W -f='${Status}' $p 2>/dev/null | grep -q 'ok installed' || need+=($p); done
[ ${#need[@]} -eq 0 ] || { echo "installing ${need[*]}" >&2; apt-get install -y -qq "${need[@]}" >/dev/null; }
cargo build --release -q
bash rootfs-fixtures/build.sh
RRUN=$PWD/target/release/rrun
rm -rf "$WORK"; mkdir -p "$WORK"
source benches/lib/podman.sh
trap bench_cleanup EXIT

# the same busybox image for both
"$RRUN" --root "$WORK/store" load -q -i rootfs-fixtures/out/busybox.tar >/dev/null
podman_scratch "$WORK/podman" none

uname -r
echo "rrun $("$RRUN" --version | head -1 | cut -d' ' -f2), $(podman --version), $(crun --version | head -1), $(conmon --version | head -1)"
python3 - "$RRUN" "$WORK/store" "$PIMAGE" "$N" "$COUNT" <<'PY'
import json, os, statistics, subprocess, sys, time
rrun, store, pimage, n, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
R = [rrun, "--root", store]
P = ["podman"]

def timed(cmd):
    """Wall time (ms), peak RSS (KiB, GNU time) and stdout of one command."""
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, capture_output=True, text=True)
    ms = (time.perf_counter() - t0) * 1000
    if p.returncode != 0:
        sys.exit(f"{cmd} failed: {p.stderr}")
    return ms, int(p.stderr.strip().splitlines()[-1]), p.stdout.strip()

def settle():
    """Waits until podman's asynchronous helpers (`podman container cleanup`, exiting
    conmons) are gone, so that they do not load the CPUs during the next timed command."""
    deadline = time.time() + 10
    while time.time() < deadline and subprocess.run(["pgrep", "-x", "podman|conmon"], capture_output=True).returncode == 0:
        time.sleep(0.02)

def cycle(tool):
    # both with a namespace holding lo only (podman's netns = "none" above): benches/network.sh times bridges
    run, stop, rm = ([*R, "run", "-d", "--network", "none", "busybox", "sleep", "600"], [*R, "stop", "-t", "0"], [*R, "rm"]) if tool == "rrun" \
        else ([*P, "run", "-d", pimage, "sleep", "600"], [*P, "stop", "-t", "0"], [*P, "rm"])
    settle()
    a = timed(run)
    cid = a[2].splitlines()[-1]
    settle()
    b = timed(stop + [cid])
    settle()
    c = timed(rm + [cid])
    return a[:2], b[:2], c[:2]

res = {"rrun": [], "podman": []}
for i in range(n + 1):
    for tool in res:
        r = cycle(tool)
        if i:  # the first is a warm-up
            res[tool].append(r)
print(f"\n# run -d / stop -t 0 / rm of busybox sleep, median of {n} cycles (alternating, each command")
print("# started once podman's background helpers are gone); ms, peak RSS of the CLI")
print(f"{'tool':<8} {'run -d':>8} {'stop':>8} {'rm':>8} {'total':>8} {'ratio':>6}  {'peak RSS KiB (run/stop/rm)'}")
tot = {}
for tool, rs in res.items():
    med = [statistics.median(r[k][0] for r in rs) for k in range(3)]
    rss = [statistics.median(r[k][1] for r in rs) for k in range(3)]
    tot[tool] = statistics.median(sum(r[k][0] for k in range(3)) for r in rs)
    print(f"{tool:<8} {med[0]:8.1f} {med[1]:8.1f} {med[2]:8.1f} {tot[tool]:8.1f} {tot[tool] / tot['rrun']:6.2f}  "
          f"{rss[0]:.0f} / {rss[1]:.0f} / {rss[2]:.0f}")

def mem(pids):
    rss = pss = 0
    for p in pids:
        for line in open(f"/proc/{p}/smaps_rollup"):
            if line.startswith("Rss:"):
                rss += int(line.split()[1])
            elif line.startswith("Pss:"):
                pss += int(line.split()[1])
    return rss, pss

print(f"\n# {count} detached busybox containers at once: start time, and the resident helper per container")
print(f"{'tool':<8} {'start all s':>11} {'helpers':>8} {'RSS MiB':>8} {'PSS MiB':>8} {'RSS/helper KiB':>15} {'PSS/helper KiB':>15}")
for tool in ("rrun", "podman"):
    t0 = time.perf_counter()
    for i in range(count):
        cmd = [*R, "run", "-d", "--network", "none", "busybox", "sleep", "600"] if tool == "rrun" else [*P, "run", "-d", pimage, "sleep", "600"]
        subprocess.run(cmd, check=True, capture_output=True)
    took = time.perf_counter() - t0
    time.sleep(1)
    if tool == "rrun":
        pids = [c["monitor_pid"] for c in json.loads(subprocess.check_output([*R, "ps", "--format", "json"]))]
    else:
        pids = [int(p) for p in subprocess.check_output(["pgrep", "-x", "conmon"], text=True).split()]
    rss, pss = mem(pids)
    print(f"{tool:<8} {took:11.2f} {len(pids):8d} {rss / 1024:8.1f} {pss / 1024:8.1f} {rss / len(pids):15.0f} {pss / len(pids):15.0f}")
    if tool == "rrun":
        ids = subprocess.check_output([*R, "ps", "-q"], text=True).split()
        subprocess.run([*R, "rm", "-f", *ids], check=True, capture_output=True)
    else:
        subprocess.run([*P, "rm", "-af", "-t", "0"], check=True, capture_output=True)
PY
