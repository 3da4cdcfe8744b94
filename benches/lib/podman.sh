# Sourced by the benchmarks: a Podman of the run's own, beside rrun.
# podman_scratch DIR NETNS writes its storage and containers.conf under DIR
# (what this host needs, see ../shared/bench/lib/podman-env.sh: cgroupfs, a
# file events logger, rlimits within the session's hard limits; crun as its
# runtime; NETNS "bridge" (netavark, networks under DIR) or "none"), exports
# CONTAINERS_STORAGE_CONF and CONTAINERS_CONF, loads the busybox fixture and
# sets PIMAGE to its name.
podman_scratch() {
  local dir=$1 netns=$2
  mkdir -p "$dir"
  cat > "$dir/storage.conf" <<EOT
[storage]
driver = "overlay"
runroot = "$dir/runroot"
graphroot = "$dir/root"
EOT
  cat > "$dir/containers.conf" <<EOT
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$dir/events.log"
runtime = "crun"
tmp_dir = "$dir/tmp"
[containers]
netns = "$netns"
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
log_driver = "k8s-file"
[network]
network_backend = "netavark"
network_config_dir = "$dir/net"
EOT
  export CONTAINERS_STORAGE_CONF=$dir/storage.conf CONTAINERS_CONF=$dir/containers.conf
  podman load -q -i rootfs-fixtures/out/busybox.tar >/dev/null
  PIMAGE=$(podman images --format '{{.Repository}}:{{.Tag}}' | head -1)
}

# bench_cleanup (an EXIT trap): the containers of rrun's store under $WORK and
# the scratch Podman's go, then $WORK.
bench_cleanup() {
  "$RRUN" --root "$WORK/store" ps -aq 2>/dev/null | xargs -r "$RRUN" --root "$WORK/store" rm -f >/dev/null 2>&1 || true
  [ -n "${CONTAINERS_CONF:-}" ] && podman rm -af -t 0 >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
