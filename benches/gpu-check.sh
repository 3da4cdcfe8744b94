#!/usr/bin/env bash
# GPU check for a machine with an NVIDIA GPU and its driver (not part of CI; a few minutes at most):
#   1. a CDI spec of the GPUs: `nvidia-ctk cdi generate` when NVIDIA's toolkit is installed,
#      else one written here from /dev/nvidia* and the libraries `ldconfig -p` lists for
#      libcuda and libnvidia-ml (with nvidia-smi itself);
#   2. `rrun run --gpus all busybox nvidia-smi -L`: prints the GPU's name, which must be the host's.
# busybox has no C library: a second CDI device, rrun-check.local/host=libc, mounts the host's
# loader and the libraries nvidia-smi and the driver link against (CDI doing what it is for).
# When nvidia-ctk's spec is there but the run fails with it, the spec written here is tried too.
#
# Run as root from anywhere. Env: RRUN=/path/to/rrun (default: built here with cargo),
# WORK=/tmp/rrun-gpu-check, NO_NVIDIA_CTK=1 (skip nvidia-ctk). To try the mechanics on a
# machine without a GPU: NVIDIA_SMI=/usr/bin/true NVIDIA_DEVICES=/dev/fuse (no name comes out).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-/tmp/rrun-gpu-check}
SMI=${NVIDIA_SMI:-$(command -v nvidia-smi || true)}
read -r -a DEVS <<<"${NVIDIA_DEVICES:-$(echo /dev/nvidia*)}"
[ "$(id -u)" = 0 ] || { echo "gpu-check: run as root" >&2; exit 1; }
if [ -z "$SMI" ] || [ ! -e "${DEVS[0]}" ]; then
  echo "gpu-check: no NVIDIA GPU here (no nvidia-smi, or no /dev/nvidia*)" >&2
  exit 1
fi
host_name=$("$SMI" -L 2>/dev/null | sed -n 's/^GPU 0: \(.*\) (UUID.*/\1/p')
echo "host GPU 0: ${host_name:-?}"

if [ -z "${RRUN:-}" ]; then
  cargo build -q
  RRUN=$PWD/target/debug/rrun
fi
bash rootfs-fixtures/build.sh >/dev/null
rm -rf "$WORK"
mkdir -p "$WORK"/{ctk,own,libc,store}
# shellcheck disable=SC2317 # run by the trap
cleanup() {
  "$RRUN" --root "$WORK/store" ps -aq 2>/dev/null | xargs -r "$RRUN" --root "$WORK/store" rm -f >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
"$RRUN" --root "$WORK/store" load -q -i rootfs-fixtures/out/busybox.tar >/dev/null

mount_line() { printf '%s- {hostPath: "%s", containerPath: "%s", options: [ro, nosuid, nodev, bind]}\n' "$1" "$2" "$3"; }
node_line() { printf '%s- {path: "%s"}\n' "$1" "$2"; }

# the GPUs: one device per /dev/nvidiaN, `all`, and for every one the control nodes and libraries
controls=() gpus=()
for d in "${DEVS[@]}"; do
  case ${d##*/} in
    nvidiactl | nvidia-uvm | nvidia-uvm-tools | nvidia-modeset) controls+=("$d") ;;
    *) [ -c "$d" ] && gpus+=("$d") ;;
  esac
done
libs=$(ldconfig -p | awk '/(libcuda|libnvidia-ml)\.so/ {print $NF}' | sort -u)
{
  echo 'cdiVersion: "0.5.0"'
  echo 'kind: nvidia.com/gpu'
  echo 'containerEdits:'
  echo "  env: [\"LD_LIBRARY_PATH=$(for l in $libs; do dirname "$l"; done | sort -u | paste -sd:)\"]"
  if [ ${#controls[@]} -gt 0 ]; then echo '  deviceNodes:'; else echo '  deviceNodes: []'; fi
  for d in "${controls[@]}"; do node_line '  ' "$d"; done
  echo '  mounts:'
  mount_line '  ' "$(readlink -f "$SMI")" /usr/bin/nvidia-smi
  for l in $libs; do mount_line '  ' "$(readlink -f "$l")" "$l"; done
  echo 'devices:'
  for i in "${!gpus[@]}"; do
    printf -- '- name: "%s"\n  containerEdits:\n    deviceNodes:\n' "$i"
    node_line '    ' "${gpus[$i]}"
  done
  printf -- '- name: all\n  containerEdits:\n    deviceNodes:\n'
  for g in "${gpus[@]}"; do node_line '    ' "$g"; done
} >"$WORK/own/nvidia.yaml"

# the host's C library, loader and what nvidia-smi and the driver libraries need, at their paths
closure=$(for f in "$SMI" $libs; do ldd "$f" 2>/dev/null || true; done | grep -o '/[^ ]*' | grep -v 'libnvidia\|libcuda' | sort -u || true)
{
  echo 'cdiVersion: "0.5.0"'
  echo 'kind: rrun-check.local/host'
  echo 'devices:'
  echo '- name: libc'
  echo '  containerEdits:'
  echo '    env: ["RRUN_GPU_CHECK=1"]'
  if [ -n "$closure" ]; then echo '    mounts:'; else echo '    mounts: []'; fi
  for f in $closure; do mount_line '    ' "$(readlink -f "$f")" "$f"; done
} >"$WORK/libc/host.yaml"

specs=()
if command -v nvidia-ctk >/dev/null && [ -z "${NO_NVIDIA_CTK:-}" ]; then
  if nvidia-ctk cdi generate --output="$WORK/ctk/nvidia.yaml" >"$WORK/ctk.log" 2>&1; then
    specs+=(ctk)
  else
    echo "nvidia-ctk cdi generate failed (see below); using the spec written here" >&2
    tail -5 "$WORK/ctk.log" >&2
  fi
fi
specs+=(own)

for s in "${specs[@]}"; do
  echo "--- CDI spec: $([ "$s" = ctk ] && echo "nvidia-ctk cdi generate" || echo "/dev/nvidia* and ldconfig -p")"
  "$RRUN" cdi list --cdi-spec-dir "$WORK/$s" --cdi-spec-dir "$WORK/libc"
  if out=$(timeout 120 "$RRUN" --root "$WORK/store" run --rm --cdi-spec-dir "$WORK/$s" --cdi-spec-dir "$WORK/libc" \
    --gpus all --device rrun-check.local/host=libc busybox nvidia-smi -L 2>&1); then
    echo "$out"
    name=$(echo "$out" | sed -n 's/^GPU 0: \(.*\) (UUID.*/\1/p')
    if [ -n "$name" ] && { [ -z "$host_name" ] || [ "$name" = "$host_name" ]; }; then
      echo "GPU name in the container: $name"
      echo "gpu-check: ok"
      exit 0
    fi
    echo "gpu-check: no GPU name in the container's output" >&2
  else
    echo "$out" >&2
    echo "gpu-check: the run failed with this spec" >&2
  fi
done
exit 1
