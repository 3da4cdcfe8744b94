#!/usr/bin/env bash
# Fault injection at full count: rrun is killed (SIGKILL) at random points of
# load, pull (local docker-registry), run --rm, run -d, rm -f, rmi and commit,
# KILLS times each (30 by default), and after every kill the harness checks
# that the next command succeeds and that, once everything is removed and the
# store pruned, `system df` shows nothing unreferenced and no cgroup, mount,
# process or store file is left (tests/crash_harness.rs; `cargo test` runs the
# same test with 3 kills per operation). Prints one CRASH line per operation
# with its kills, tries, leaks and duration; exits non-zero on any leak.
# Run as root. Env: KILLS=30, SEED (repeat a run), PROFILE=release|dev,
# RRUN_CRASH_BIN (test another rrun binary, e.g. an older build).
set -euo pipefail
cd "$(dirname "$0")/.."
KILLS=${KILLS:-30}
PROFILE=${PROFILE:-release}
for p in docker-registry skopeo; do
  command -v $p >/dev/null || { echo "installing $p" >&2; apt-get install -y -qq $p >/dev/null; }
done
args=(--test crash_harness)
[ "$PROFILE" = release ] && args=(--release "${args[@]}")
export RRUN_CRASH_KILLS=$KILLS
[ -n "${SEED:-}" ] && export RRUN_CRASH_SEED=$SEED
start=$(date +%s)
status=0
cargo test -q "${args[@]}" -- --nocapture --test-threads=1 2>&1 | tee /dev/stderr | grep -E '^(CRASH|crash harness)' > /tmp/rrun-crash-summary.$$ || status=$?
echo "# $KILLS kills per operation, $(( $(date +%s) - start )) s in all ($PROFILE build)"
cat /tmp/rrun-crash-summary.$$
rm -f /tmp/rrun-crash-summary.$$
exit $status
