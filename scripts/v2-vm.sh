#!/usr/bin/env bash
# Runs rrun's cgroup-v2 checks in a QEMU guest booted as a pure cgroup-v2 host.
#
# This machine's cgroups are v1 "hybrid", so the v2 backend (src/cgroups/v2.rs,
# src/cgroups/bpf.rs) cannot be exercised here. This script boots Debian's own
# kernel under QEMU (software emulation, no KVM needed) with an initrd holding
# busybox, a static rrun, the busybox fixture image and the checks, reads the
# verdict from the serial console and exits 0 only when every check passed.
#
#   bash scripts/v2-vm.sh            # as root, on Debian 12
#
# What it does:
#   1. installs qemu-system-x86 and busybox-static when missing (apt-get);
#   2. takes the kernel that `apt-cache depends linux-image-amd64` names,
#      fetched with `apt-get download` and unpacked once into the cache
#      (vmlinuz, plus the modules listed in MODULES and what they depend on);
#   3. builds rrun statically in its own target dir (target/v2vm), so other
#      cargo builds are not blocked, and the busybox fixture
#      (rootfs-fixtures/build.sh);
#   4. packs the initrd: scripts/v2-vm/init as /init (mounts cgroup2 only,
#      enables the controllers, loads the modules, runs /checks.sh, powers
#      off) and scripts/v2-vm/checks.sh (one `V2CHECK ok|FAIL` line a check,
#      then `V2RESULT pass|fail`);
#   5. boots it (`timeout`: V2VM_TIMEOUT seconds, default 600) and prints the
#      check lines, the verdict and the time taken.
#
# Environment: V2VM_CACHE (default rootfs-fixtures/out/v2vm, git-ignored) holds
# the kernel pieces, the initrd and console.log (the whole serial output of the
# last boot); V2VM_TIMEOUT; V2VM_MEMORY (MiB, default 1024).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=${V2VM_CACHE:-rootfs-fixtures/out/v2vm}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
TIMEOUT=${V2VM_TIMEOUT:-600}
MEMORY=${V2VM_MEMORY:-1024}
# overlay: rrun's rootfs; fuse: /dev/fuse is the device the devices check probes
MODULES=(overlay fuse)
TARGET=x86_64-unknown-linux-gnu

t_start=$(date +%s%N)
say() { printf 'v2-vm: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 2; }
secs_since() { local d=$(($(date +%s%N) - $1)); printf '%d.%01d' $((d / 1000000000)) $((d / 100000000 % 10)); }

[ "$(id -u)" = 0 ] || die "run as root (it installs packages)"
exec 9>"$CACHE/.lock"
flock 9

# --- 1. packages ---------------------------------------------------------------
export DEBIAN_FRONTEND=noninteractive
updated=0
apt_update() { [ $updated = 1 ] || { apt-get update -qq; updated=1; }; }
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || need+=(busybox-static)
# the static rrun links libseccomp.a
dpkg-query -W -f='${Status}' libseccomp-dev 2>/dev/null | grep -q 'ok installed' || need+=(libseccomp-dev)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  apt_update
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v cargo >/dev/null || die "cargo not found (install Rust, e.g. with rustup)"
BUSYBOX=/bin/busybox
# static: no program interpreter (a static-pie counts; a binary asking for ld.so does not)
file_is_static() { ! LC_ALL=C readelf -l "$1" 2>/dev/null | grep -q 'INTERP'; }
file_is_static "$BUSYBOX" || die "$BUSYBOX is not the static one (busybox-static)"

# --- 2. kernel --------------------------------------------------------------------
kernel_pkg() { apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }'; }
pkg=$(kernel_pkg)
if [ -z "$pkg" ] || [ ! -e "$CACHE/kernel/$pkg/complete" ]; then
  apt_update # the package lists name the current kernel
  pkg=$(kernel_pkg)
  [ -n "$pkg" ] || die "apt-cache depends linux-image-amd64 names no linux-image-* package"
fi
KDIR=$CACHE/kernel/$pkg
if [ ! -e "$KDIR/complete" ]; then
  say "fetching $pkg"
  t=$(date +%s%N)
  work=$CACHE/tmp-kernel
  rm -rf "$work" "$KDIR"
  mkdir -p "$work" "$KDIR/modules"
  (cd "$work" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null)
  dpkg-deb -x "$work"/linux-image-*.deb "$work/x"
  cp "$work"/x/boot/vmlinuz-* "$KDIR/vmlinuz"
  moddir=$(echo "$work"/x/lib/modules/*)
  # copies module $1 (after its dependencies) as an uncompressed .ko and lists it in order
  add_module() {
    local name=$1 pattern f out dep
    [ -e "$KDIR/modules/$name.ko" ] && return 0
    pattern=$(printf '%s' "$name" | sed 's/[-_]/[-_]/g')
    f=$(find "$moddir" -name "$pattern.ko*" | head -n1)
    [ -n "$f" ] || die "module $name is not in $pkg (built in? then drop it from MODULES)"
    out=$KDIR/modules/$name.ko
    case "$f" in
      *.ko) cp "$f" "$out" ;;
      *.ko.xz) xz -dc "$f" >"$out" ;;
      *.ko.zst) zstd -qdc "$f" >"$out" ;;
      *.ko.gz) gzip -dc "$f" >"$out" ;;
      *) die "unknown module format: $f" ;;
    esac
    for dep in $(tr '\0' '\n' <"$out" | sed -n 's/^depends=//p' | tr ',' ' '); do
      add_module "$dep"
    done
    echo "$name.ko" >>"$KDIR/modules/order"
  }
  : >"$KDIR/modules/order"
  for m in "${MODULES[@]}"; do add_module "$m"; done
  rm -rf "$work"
  touch "$KDIR/complete"
  say "kernel $pkg cached in $KDIR ($(secs_since "$t") s): modules $(tr '\n' ' ' <"$KDIR/modules/order")"
else
  say "kernel $pkg (cached)"
fi

# --- 3. rrun (static) and the busybox fixture ---------------------------------------
t=$(date +%s%N)
say "building rrun (static, target/v2vm)"
CARGO_TARGET_DIR=$ROOT/target/v2vm RUSTFLAGS='-C target-feature=+crt-static' \
  LIBSECCOMP_LINK_TYPE=static LIBSECCOMP_LIB_PATH=/usr/lib/x86_64-linux-gnu \
  cargo build --release --quiet --target "$TARGET"
RRUN=$ROOT/target/v2vm/$TARGET/release/rrun
file_is_static "$RRUN" || die "$RRUN is not statically linked"
bash rootfs-fixtures/build.sh
FIXTURE=$ROOT/rootfs-fixtures/out/busybox.tar
[ -f "$FIXTURE" ] || die "$FIXTURE was not built"
say "rrun and fixture ready ($(secs_since "$t") s)"

# --- 4. initrd (rebuilt only when one of its inputs changed) ------------------------
inputs=("$BUSYBOX" "$RRUN" "$FIXTURE" scripts/v2-vm/init scripts/v2-vm/checks.sh "$KDIR/modules/order" "$KDIR"/modules/*.ko)
sum=$(sha256sum "${inputs[@]}" | sha256sum | cut -c1-64)
INITRD=$CACHE/initrd.gz
if [ ! -f "$INITRD" ] || [ "$(cat "$CACHE/initrd.sum" 2>/dev/null)" != "$sum" ]; then
  t=$(date +%s%N)
  tree=$CACHE/initrd-root
  rm -rf "$tree"
  mkdir -p "$tree"/{bin,dev,proc,sys,tmp,run,etc,lib/modules}
  cp "$BUSYBOX" "$tree/bin/busybox"
  ln -s busybox "$tree/bin/sh"
  cp "$RRUN" "$tree/bin/rrun"
  cp "$FIXTURE" "$tree/busybox.tar"
  install -m 755 scripts/v2-vm/init "$tree/init"
  install -m 755 scripts/v2-vm/checks.sh "$tree/checks.sh"
  cp "$KDIR"/modules/*.ko "$KDIR/modules/order" "$tree/lib/modules/"
  printf '127.0.0.1\tlocalhost v2vm\n' >"$tree/etc/hosts"
  echo v2vm >"$tree/etc/hostname"
  : >"$tree/etc/resolv.conf"
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$tree/etc/passwd"
  printf 'root:x:0:\n' >"$tree/etc/group"
  # the binary must run with nothing but the initrd around it
  out=$(chroot "$tree" /bin/rrun --version 2>&1) || die "rrun does not run inside the initrd: $out"
  (cd "$tree" && find . | "$BUSYBOX" cpio -o -H newc 2>/dev/null) | gzip -1 >"$INITRD.new"
  mv "$INITRD.new" "$INITRD"
  echo "$sum" >"$CACHE/initrd.sum"
  rm -rf "$tree"
  say "initrd packed: $(du -h "$INITRD" | cut -f1) ($out; $(secs_since "$t") s)"
else
  say "initrd unchanged (cached)"
fi

# --- 5. boot and read the verdict ----------------------------------------------------
LOG=$CACHE/console.log
say "booting $pkg under QEMU (TCG, ${MEMORY} MiB, timeout ${TIMEOUT} s); console: $LOG"
t_boot=$(date +%s%N)
set +e
timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -m "$MEMORY" -smp 1 \
  -kernel "$KDIR/vmlinuz" -initrd "$INITRD" \
  -append "console=ttyS0 panic=-1 quiet loglevel=3" \
  -nographic -no-reboot </dev/null 2>&1 | tr -d '\r' >"$LOG"
qemu_rc=${PIPESTATUS[0]}
set -e
boot_s=$(secs_since "$t_boot")

# (-o: the console may put terminal escapes or kernel messages before a line)
grep -a -o 'v2-vm: kernel .*' "$LOG" || true
grep -a -o 'V2CHECK .*' "$LOG" || true
verdict=$(grep -a -o 'V2RESULT [a-z]*' "$LOG" | tail -n1 | cut -d' ' -f2)
echo "boot + checks: ${boot_s} s; total: $(secs_since "$t_start") s"
if [ "$verdict" = pass ]; then
  echo "V2RESULT pass"
  exit 0
fi
if [ -z "$verdict" ]; then
  if [ "$qemu_rc" = 124 ]; then
    echo "V2RESULT none: the VM timed out after ${TIMEOUT} s; last console lines:"
  else
    echo "V2RESULT none: the VM printed no verdict (qemu exit $qemu_rc); last console lines:"
  fi
  tail -n 40 "$LOG" | sed 's/^/  | /'
else
  echo "V2RESULT fail (whole console output: $LOG)"
fi
exit 1
