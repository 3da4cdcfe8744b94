#!/bin/sh
# rrun's cgroup-v2 checks, run by /init inside the QEMU guest that
# scripts/v2-vm.sh boots (a pure cgroup-v2 host). Not meant for the host.
#
# Each check asserts observable behaviour of rrun's v2 backend
# (src/cgroups/v2.rs, src/cgroups/bpf.rs) and prints one line on the serial
# console:
#   V2CHECK ok <name>
#   V2CHECK FAIL <name>: <detail>
# and at the end `V2RESULT pass` or `V2RESULT fail`, which scripts/v2-vm.sh
# greps. Emulation (TCG) is slow: the checks are few and each is bounded by
# `timeout`.

STORE=/tmp/store
FAILED=0
# the guest has no netavark (nor a network worth a bridge): containers get a namespace with lo only
mkdir -p /tmp/rrun-etc
printf 'default_network = "none"\n' > /tmp/rrun-etc/network.conf
export RRUN_NETWORK_CONF=/tmp/rrun-etc/network.conf

r() { rrun --root "$STORE" "$@"; }
ok() { echo "V2CHECK ok $1"; }
fail() {
  FAILED=1
  echo "V2CHECK FAIL $1: $(printf '%s' "$2" | tr '\n' ' ' | cut -c1-800)"
}
# first value of "KEY": in rrun's pretty-printed JSON on stdin
jval() { awk -v k="\"$1\":" '$1 == k { v = $2; gsub(/[",]/, "", v); print v; exit }'; }
# first element of the "Cgroup": [ ... ] array of `rrun inspect`
cgroup0() { awk '/"Cgroup": \[$/ { getline; gsub(/[ ",]/, ""); print; exit }'; }
# seconds since boot, in hundredths
now_cs() { awk '{ split($1, a, "."); print a[1] * 100 + a[2]; exit }' /proc/uptime; }
# waits (up to 60 s) until container $1 is running
wait_running() {
  i=0
  while [ $i -lt 120 ]; do
    [ "$(r inspect "$1" 2>/dev/null | jval Status)" = running ] && return 0
    sleep 0.5
    i=$((i + 1))
  done
  return 1
}
# the cgroup directory of running container $1 (empty when none)
cgdir() { r inspect "$1" 2>/dev/null | cgroup0; }
usage_usec() { awk '$1 == "usage_usec" { print $2 }' "$1/cpu.stat"; }

# --- 0. the image -----------------------------------------------------------
if out=$(r load -i /busybox.tar 2>&1) && images=$(r images 2>&1) && echo "$images" | grep -q busybox; then
  ok load
else
  fail load "$out"
  echo "V2RESULT fail"
  exit 1
fi

# --- 1. memory: --memory 16m OOM-kills a 64 MB shell variable ----------------
check_oom() {
  hog='x=$(head -c 67108864 /dev/zero | tr "\0" a); echo survived'
  out=$(timeout 120 rrun --root "$STORE" run --rm --memory 16m busybox sh -c "$hog" 2>&1)
  code=$?
  [ "$code" = 137 ] || { fail oom "run --rm exited $code, want 137: $out"; return; }
  case "$out" in *survived*) fail oom "the --rm run survived: $out"; return ;; esac
  out=$(timeout 120 rrun --root "$STORE" run --name hog --memory 16m busybox sh -c "$hog" 2>&1)
  code=$?
  [ "$code" = 137 ] || { fail oom "named run exited $code, want 137: $out"; return; }
  insp=$(r inspect hog 2>&1)
  [ "$(echo "$insp" | jval OOMKilled)" = true ] || { fail oom "inspect hog: State.OOMKilled is not true: $insp"; return; }
  ps=$(r ps -a --format json 2>&1)
  [ "$(echo "$ps" | jval oom_killed)" = true ] || { fail oom "ps -a --format json: oom_killed is not true: $ps"; return; }
  dir=$(echo "$insp" | cgroup0)
  [ -n "$dir" ] && [ ! -e "$dir" ] || { fail oom "cgroup dir '$dir' left behind (or none recorded)"; return; }
  r rm hog >/dev/null 2>&1
  ok oom
}

# --- 2. pids: --pids-limit 10 stops a fork loop -------------------------------
check_pids() {
  # a subshell forks until fork fails; the outer shell then counts processes with builtins only
  script='(i=0; while [ $i -lt 50 ]; do sleep 5 & i=$((i+1)); done) 2>/dev/null;
          n=0; for p in /proc/[0-9]*; do n=$((n+1)); done; echo $n'
  out=$(timeout 120 rrun --root "$STORE" run --rm --pids-limit 10 busybox sh -c "$script" 2>&1)
  code=$?
  [ "$code" = 0 ] || { fail pids "exited $code: $out"; return; }
  case "$out" in '' | *[!0-9]*) fail pids "not a count: $out"; return ;; esac
  [ "$out" -ge 5 ] && [ "$out" -le 10 ] || { fail pids "the fork loop must stop at 10 processes, saw $out"; return; }
  ok "pids ($out processes)"
}

# --- 3. cpu: --cpus 0.5 sets cpu.max and throttles a busy loop ----------------
check_cpus() {
  r run -d --name busy --cpus 0.5 busybox sh -c 'while :; do :; done' >/dev/null 2>&1
  wait_running busy || { fail cpus "container busy did not start: $(r ps -a 2>&1)"; r rm -f busy >/dev/null 2>&1; return; }
  dir=$(cgdir busy)
  [ -n "$dir" ] && [ -d "$dir" ] || { fail cpus "no cgroup dir in inspect busy: '$dir'"; r rm -f busy >/dev/null 2>&1; return; }
  max=$(cat "$dir/cpu.max")
  sleep 0.5
  u0=$(usage_usec "$dir") t0=$(now_cs)
  sleep 2
  u1=$(usage_usec "$dir") t1=$(now_cs)
  throttled=$(awk '$1 == "nr_throttled" { print $2 }' "$dir/cpu.stat")
  pct=$(((u1 - u0) / ((t1 - t0) * 100)))
  r rm -f busy >/dev/null 2>&1
  [ "$max" = "50000 100000" ] || { fail cpus "$dir/cpu.max is '$max', want '50000 100000'"; return; }
  [ "${throttled:-0}" -gt 0 ] || { fail cpus "nr_throttled is '$throttled' after 2 s of a busy loop"; return; }
  [ "$pct" -ge 30 ] && [ "$pct" -le 70 ] || { fail cpus "the busy loop used ${pct}% of a CPU, want about 50%"; return; }
  [ ! -e "$dir" ] || { fail cpus "rm -f busy left the cgroup dir $dir"; return; }
  ok "cpus (cpu.max '$max', ${pct}% of a CPU, throttled $throttled times)"
}

# --- 4. devices: the BPF program denies what the rules do not allow -----------
check_devices() {
  # /dev/fuse (10:229): not in the default rules (src/spec/resources.rs default_device_rules);
  # /init loads fuse.ko, so an allowed open reaches the driver and succeeds
  probe='mknod /tmp/fuse c 10 229 && { (: <> /tmp/fuse) 2>/dev/null && echo fuse-open || echo fuse-denied; };
         head -c 1 /dev/zero | wc -c'
  out=$(timeout 120 rrun --root "$STORE" run --rm busybox sh -c "$probe" 2>&1)
  code=$?
  want=$(printf 'fuse-denied\n1')
  [ "$code" = 0 ] && [ "$out" = "$want" ] || { fail devices "default rules: exit $code, output '$out', want 'fuse-denied 1'"; return; }
  out=$(timeout 120 rrun --root "$STORE" run --rm --device-cgroup-rule 'c 10:229 rw' busybox sh -c "$probe" 2>&1)
  code=$?
  want=$(printf 'fuse-open\n1')
  [ "$code" = 0 ] && [ "$out" = "$want" ] || { fail devices "with 'c 10:229 rw': exit $code, output '$out', want 'fuse-open 1'"; return; }
  ok devices
}

# --- 5. pause/unpause: cgroup.freeze stops and restarts a counter -------------
check_pause() {
  mkdir -p /tmp/cnt
  r run -d --name counter -v /tmp/cnt:/cnt busybox sh -c \
    'i=0; while :; do i=$((i+1)); echo $i > /cnt/n.new; mv /cnt/n.new /cnt/n; sleep 0.2; done' >/dev/null 2>&1
  wait_running counter || { fail pause "container counter did not start: $(r ps -a 2>&1)"; r rm -f counter >/dev/null 2>&1; return; }
  i=0
  while [ "$(cat /tmp/cnt/n 2>/dev/null || echo 0)" -lt 2 ] && [ $i -lt 60 ]; do sleep 0.5; i=$((i + 1)); done
  dir=$(cgdir counter)
  out=$(r pause counter 2>&1) || { fail pause "rrun pause: $out"; r rm -f counter >/dev/null 2>&1; return; }
  events=$(cat "$dir/cgroup.events" 2>&1)
  status=$(r inspect counter | jval Status)
  a=$(cat /tmp/cnt/n)
  sleep 2
  b=$(cat /tmp/cnt/n)
  out=$(r unpause counter 2>&1) || { fail pause "rrun unpause: $out"; r rm -f counter >/dev/null 2>&1; return; }
  sleep 2
  c=$(cat /tmp/cnt/n)
  events2=$(cat "$dir/cgroup.events" 2>&1)
  r rm -f counter >/dev/null 2>&1
  echo "$events" | grep -qx 'frozen 1' || { fail pause "paused, $dir/cgroup.events says: $events"; return; }
  [ "$status" = paused ] || { fail pause "paused, inspect says Status '$status'"; return; }
  [ "$a" = "$b" ] || { fail pause "the counter advanced while paused: $a -> $b"; return; }
  [ "$c" -gt "$b" ] || { fail pause "the counter did not advance after unpause: $b -> $c"; return; }
  echo "$events2" | grep -qx 'frozen 0' || { fail pause "unpaused, cgroup.events says: $events2"; return; }
  ok "pause (counter $a -> $b paused, -> $c after unpause)"
}

# --- 6+7. stats of a running container; stop -t 1 of one that ignores TERM ----
check_stats_and_stop() {
  r run -d --name trapper busybox sh -c "trap '' TERM; sleep 300 & while :; do sleep 1; done" >/dev/null 2>&1
  if ! wait_running trapper; then
    fail stats "container trapper did not start: $(r ps -a 2>&1)"
    fail stop "container trapper did not start"
    r rm -f trapper >/dev/null 2>&1
    return
  fi
  dir=$(cgdir trapper)

  st=$(r stats --no-stream --format json trapper 2>&1)
  pids=$(echo "$st" | jval pids) mem=$(echo "$st" | jval memory_usage)
  if [ "${pids:-0}" -ge 1 ] 2>/dev/null && [ "${mem:-0}" -gt 0 ] 2>/dev/null; then
    ok "stats (pids $pids, memory_usage $mem)"
  else
    fail stats "want pids >= 1 and memory_usage > 0: $st"
  fi

  t0=$(now_cs)
  out=$(timeout 60 rrun --root "$STORE" stop -t 1 trapper 2>&1)
  code=$?
  t1=$(now_cs)
  insp=$(r inspect trapper 2>&1)
  exit_code=$(echo "$insp" | jval ExitCode)
  left=""
  for p in /proc/[0-9]*; do
    case "$(tr '\0' ' ' < "$p/cmdline" 2>/dev/null)" in "sleep 300 "*) left="$left ${p#/proc/}" ;; esac
  done
  r rm -f trapper >/dev/null 2>&1
  [ "$code" = 0 ] || { fail stop "rrun stop exited $code: $out"; return; }
  [ "$exit_code" = 137 ] || { fail stop "State.ExitCode is '$exit_code', want 137: $insp"; return; }
  [ -n "$dir" ] && [ ! -e "$dir" ] || { fail stop "cgroup dir '$dir' still there: procs $(cat "$dir/cgroup.procs" 2>&1)"; return; }
  [ -z "$left" ] || { fail stop "'sleep 300' still running as pid$left"; return; }
  ok "stop (exit 137 after $(((t1 - t0) / 100)).$(((t1 - t0) % 100 / 10)) s, cgroup removed)"
}

# --- 8. the OCI runtime on v2 (issue 16): update merges cpu.max, -1 is "max", exec
# --cgroup joins a sub-cgroup that delete --force then removes, hugetlb, io, and the
# v1-only settings are refused by name
O="rrun oci --root /tmp/ocistate"
# oci_bundle DIR RESOURCES_JSON: a busybox bundle running `sleep 300`
oci_bundle() {
  mkdir -p "$1/rootfs/bin" "$1/rootfs/proc" "$1/rootfs/dev" "$1/rootfs/tmp"
  cp /bin/busybox "$1/rootfs/bin/busybox"
  for a in sh sleep cat echo true; do ln -sf busybox "$1/rootfs/bin/$a"; done
  cat >"$1/config.json" <<EOF
{"ociVersion": "1.0.2",
 "process": {"terminal": false, "user": {"uid": 0, "gid": 0}, "args": ["sleep", "300"], "env": ["PATH=/bin"], "cwd": "/"},
 "root": {"path": "rootfs"},
 "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
 "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}], "resources": $2}}
EOF
}
check_oci() {
  oci_bundle /tmp/ob '{}'
  # the container's init keeps its stdio: a file, not the pipe of a command substitution
  $O create --bundle /tmp/ob c1 >/tmp/c1.out 2>&1 && $O start c1 >>/tmp/c1.out 2>&1 || {
    fail oci "create/start: $(cat /tmp/c1.out)"
    return
  }
  sleep 1
  st=$($O state c1 2>&1)
  case "$st" in *'"running"'*) ;; *) fail oci "c1 is not running: $st $(cat /tmp/c1.out)"; $O delete -f c1; return ;; esac
  dir=/sys/fs/cgroup/rrun/c1
  [ -d "$dir" ] || { fail oci "no cgroup $dir"; $O delete -f c1; return; }
  out=$($O update --cpu-period 50000 c1 2>&1) || { fail oci "update --cpu-period alone failed: $out"; $O delete -f c1; return; }
  [ "$(cat $dir/cpu.max)" = "max 50000" ] || { fail oci "cpu.max after a period alone: $(cat $dir/cpu.max)"; $O delete -f c1; return; }
  out=$($O update --cpu-quota 20000 c1 2>&1) || { fail oci "update --cpu-quota: $out"; $O delete -f c1; return; }
  [ "$(cat $dir/cpu.max)" = "20000 50000" ] || { fail oci "cpu.max after the quota: $(cat $dir/cpu.max)"; $O delete -f c1; return; }
  out=$($O update --memory 33554432 c1 2>&1 && $O update --memory -1 c1 2>&1) || { fail oci "update --memory: $out"; $O delete -f c1; return; }
  [ "$(cat $dir/memory.max)" = max ] || { fail oci "memory.max after --memory -1: $(cat $dir/memory.max)"; $O delete -f c1; return; }
  mkdir "$dir/sub"
  out=$($O exec --cgroup sub c1 cat /proc/self/cgroup 2>&1)
  [ "$out" = "0::/rrun/c1/sub" ] || { fail oci "exec --cgroup sub: $out"; $O delete -f c1; return; }
  $O exec --detach --cgroup sub c1 sleep 300 >/dev/null 2>&1 </dev/null
  [ -n "$(cat $dir/sub/cgroup.procs)" ] || { fail oci "no process in the sub-cgroup"; $O delete -f c1; return; }
  out=$($O delete --force c1 2>&1) || { fail oci "delete --force with a sub-cgroup: $out"; return; }
  [ ! -e "$dir" ] || { fail oci "cgroup $dir left after delete --force"; return; }
  # v1-only settings: refused, naming them
  oci_bundle /tmp/ob2 '{"memory": {"swappiness": 10}}'
  out=$($O run --bundle /tmp/ob2 c2 2>&1) && { fail oci "swappiness accepted on v2"; $O delete -f c2; return; }
  case "$out" in *swappiness*) ;; *) fail oci "the swappiness refusal does not name it: $out"; return ;; esac
  oci_bundle /tmp/ob3 '{"network": {"classID": 1048577}}'
  out=$($O run --bundle /tmp/ob3 c3 2>&1) && { fail oci "network.classID accepted on v2"; $O delete -f c3; return; }
  case "$out" in *net_cls*) ;; *) fail oci "the classID refusal does not name net_cls: $out"; return ;; esac
  # hugetlb and io, where the kernel has them (and io a block device)
  if grep -qw hugetlb /sys/fs/cgroup/cgroup.controllers; then
    oci_bundle /tmp/ob4 '{"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}'
    $O create --bundle /tmp/ob4 c4 >/tmp/c4.out 2>&1 || { fail oci "hugepageLimits: $(cat /tmp/c4.out)"; return; }
    v=$(cat /sys/fs/cgroup/rrun/c4/hugetlb.2MB.max 2>&1)
    $O delete -f c4 >/dev/null 2>&1
    [ "$v" = 4194304 ] || { fail oci "hugetlb.2MB.max is $v"; return; }
  fi
  blk=$(ls /sys/block 2>/dev/null | head -1)
  if grep -qw io /sys/fs/cgroup/cgroup.controllers && [ -n "$blk" ]; then
    mm=$(cat "/sys/block/$blk/dev")
    oci_bundle /tmp/ob5 "{\"blockIO\": {\"throttleReadBpsDevice\": [{\"major\": ${mm%:*}, \"minor\": ${mm#*:}, \"rate\": 1048576}]}}"
    $O create --bundle /tmp/ob5 c5 >/tmp/c5.out 2>&1 || { fail oci "blockIO throttle on io.max ($blk $mm): $(cat /tmp/c5.out)"; return; }
    v=$(cat /sys/fs/cgroup/rrun/c5/io.max 2>&1)
    $O delete -f c5 >/dev/null 2>&1
    case "$v" in *"$mm rbps=1048576"*) ;; *) fail oci "io.max is '$v' ($blk $mm)"; return ;; esac
  fi
  ok "oci (update cpu.max and -1, exec --cgroup, delete with sub-cgroups, v1-only refused, hugetlb, io)"
}

# --- 8. rootless: an ordinary user whose cgroup subtree is delegated ---------
# As systemd does for user@UID.service: root makes a directory, chowns it and its
# cgroup.procs, cgroup.subtree_control and cgroup.threads to the user, and the
# user's processes run in a cgroup below it (here: shell/). rrun, run as the user
# (single-id mode: the guest has no newuidmap), makes its containers' cgroups
# below the delegated directory, and --memory and --pids-limit bite.
check_rootless() {
  U=rrunuser N=1500
  D=/sys/fs/cgroup/deleg-$U
  grep -q "^$U:" /etc/passwd || { echo "$U:x:$N:$N::/home/$U:/bin/sh" >>/etc/passwd; echo "$U:x:$N:" >>/etc/group; }
  mkdir -p /home/$U/data /tmp/rt-$U "$D/shell"
  chown -R $N:$N /home/$U /tmp/rt-$U
  chmod 700 /tmp/rt-$U
  for d in "$D" "$D/shell"; do
    chown $N:$N "$d" "$d/cgroup.procs" "$d/cgroup.subtree_control" "$d/cgroup.threads"
  done
  # rrun as the user, started in $D/shell
  {
    echo '#!/bin/sh'
    echo "echo \$\$ > $D/shell/cgroup.procs || exit 99"
    # (busybox su: options end at --, then the user, then \$0 and the arguments of the -c command)
    echo "exec su -s /bin/sh -c 'cd / && HOME=/home/$U XDG_DATA_HOME=/home/$U/data XDG_RUNTIME_DIR=/tmp/rt-$U RRUN_NETWORK_CONF=$RRUN_NETWORK_CONF exec rrun \"\$@\"' -- $U rrun \"\$@\""
  } >/tmp/asuser.sh
  chmod 755 /tmp/asuser.sh
  as_user() { timeout 120 /tmp/asuser.sh "$@"; }
  out=$(as_user load -i /busybox.tar 2>&1) || { fail rootless "load as $U: $out"; return; }
  out=$(as_user run --rm --memory 32m --pids-limit 10 busybox sh -c 'id -u; cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max' 2>/tmp/rl.err)
  want=$(printf '0\n33554432\n10')
  [ "$out" = "$want" ] || { fail rootless "limits seen in the container: '$out', want '$want'; stderr: $(cat /tmp/rl.err)"; return; }
  [ -d "$D/rrun" ] || { fail rootless "no $D/rrun: the cgroup was not made in the delegated subtree"; return; }
  hog='x=$(head -c 67108864 /dev/zero | tr "\0" a); echo survived'
  out=$(as_user run --rm --memory 32m --pids-limit 10 busybox sh -c "$hog" 2>/tmp/rl.err)
  code=$?
  [ "$code" = 137 ] || { fail rootless "--memory 32m as $U exited $code, want 137 (OOM kill): $out $(cat /tmp/rl.err)"; return; }
  script='(i=0; while [ $i -lt 50 ]; do sleep 5 & i=$((i+1)); done) 2>/dev/null;
          n=0; for p in /proc/[0-9]*; do n=$((n+1)); done; echo $n'
  out=$(as_user run --rm --memory 32m --pids-limit 10 busybox sh -c "$script" 2>/tmp/rl.err)
  code=$?
  [ "$code" = 0 ] || { fail rootless "pids as $U: exited $code: $out $(cat /tmp/rl.err)"; return; }
  case "$out" in '' | *[!0-9]*) fail rootless "pids as $U: not a count: $out"; return ;; esac
  [ "$out" -ge 5 ] && [ "$out" -le 10 ] || { fail rootless "pids as $U: the fork loop must stop at 10, saw $out"; return; }
  info=$(as_user info 2>&1)
  case "$info" in *"$D"*) ;; *) fail rootless "info does not name the delegated cgroup $D: $info"; return ;; esac
  left=$(find "$D/rrun" -mindepth 1 -type d 2>/dev/null | tr '\n' ' ')
  [ -z "$left" ] || { fail rootless "cgroups left in the delegated subtree: $left"; return; }
  ok "rootless (delegated $D: memory.max and pids.max set, OOM kill 137, fork loop stopped at $out)"
}

check_oom
check_pids
check_cpus
check_devices
check_pause
check_stats_and_stop
check_oci
check_rootless

# every container's cgroup is gone (rrun/ itself stays, holding the enabled controllers)
leftover=$(find /sys/fs/cgroup/rrun -mindepth 1 -type d 2>/dev/null | tr '\n' ' ')
[ -z "$leftover" ] || { FAILED=1; echo "V2CHECK FAIL cleanup: cgroups left under /sys/fs/cgroup/rrun: $leftover"; }

if [ "$FAILED" = 0 ]; then echo "V2RESULT pass"; else echo "V2RESULT fail"; fi
