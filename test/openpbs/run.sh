#!/usr/bin/env bash
# The openpbs test layer: real OpenPBS 23.06.06, built from its source archive (checked against the sha256 pinned
# in kit/SHA256SUMS, cached by that hash outside the clone), started in a private network namespace that has only
# 127.0.0.1, and the layer's tests run inside that namespace, so their sshd, Dask processes and PBS's daemons never
# bind or reach an address of the machine itself. Everything started here is stopped by pid on the way out, also
# when a test fails. Without the source archive the layer is skipped with a line that says why.
#   run.sh [TEST_FILE...]        default: every test/openpbs/*.test.ts
#   run.sh --bench FILE [ARGS]   a benchmark under test/bench/ inside the same namespace, instead of the tests
#   OPENPBS_SOURCE    the source archive        default ../shared/openpbs/openpbs-23.06.06.tar.gz beside the clone
#   OPENPBS_INSTANCE  names its prefix, PBS_HOME and namespace, so two runs can go side by side (each builds once)
#                     default gadi-dask-pbs
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
KIT=$ROOT/test/openpbs/kit
export OPENPBS_SOURCE=${OPENPBS_SOURCE:-$(dirname "$ROOT")/shared/openpbs/openpbs-23.06.06.tar.gz}
# An instance of the project's own, apart from any other PBS on the machine.
instance=${OPENPBS_INSTANCE:-gadi-dask-pbs}
export PREFIX=/opt/$instance PBS_HOME_DIR=/var/spool/$instance
export PBSNS_DIR=/run/$instance PBSNS_HOST=gadi-pbs NODE_NCPUS=16 QUEUES="normal express"
T0=$(date +%s)
say() { echo "[openpbs] $(($(date +%s) - T0)) s: $*"; }

if [ ! -f "$OPENPBS_SOURCE" ]; then
  echo "# layer skipped: no OpenPBS source archive at $OPENPBS_SOURCE (set OPENPBS_SOURCE to the openpbs-23.06.06.tar.gz whose sha256 test/openpbs/kit/SHA256SUMS pins)"
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "[openpbs] needs root (namespaces, PBS's daemons, the sandbox's sshd)" >&2; exit 1; }

say "build (cached by the source's hash in $PREFIX)"
EXTRA_PACKAGES="openssh-server python3-distributed python3-yaml" bash "$KIT/build.sh" | sed 's/^/  /'
# A stale instance (a run that was killed) goes first; then a cold start: fresh datastore, job ids from 0.
if [ -f "$PBSNS_DIR/kit.env" ]; then bash "$KIT/stop.sh" --force | sed 's/^/  /' || true; fi
say "start in the namespace $PBSNS_DIR (hostname $PBSNS_HOST)"
stopped=0
# shellcheck disable=SC2317  # run by the EXIT trap
stop() {
  [ "$stopped" = 1 ] && return; stopped=1
  if [ -n "${sampler:-}" ]; then kill "$sampler" 2>/dev/null || true; fi
  say "stop"
  bash "$KIT/stop.sh" --force | sed 's/^/  /' || true
  say "done"
}
trap stop EXIT
trap 'exit 130' INT TERM
# The MoM polls its jobs every 10 s at most (PBS's default grows to 120 s): a walltime is enforced, and what a job
# used is sampled, within seconds, so the tests need not wait minutes for either.
RESET=1 MOM_CONFIG=$'$min_check_poll 2\n$max_check_poll 10' bash "$KIT/start.sh" | sed 's/^/  /'

GADI_DASK_HOST_NETNS=$(stat -L -c %i /proc/self/ns/net)
export GADI_DASK_OPENPBS_PREFIX=$PREFIX GADI_DASK_OPENPBS_HOST=$PBSNS_HOST GADI_DASK_HOST_NETNS
cd "$ROOT"

# While the layer runs, the machine's listening sockets are sampled: none may appear (everything of the layer
# listens inside the namespace), and what listens inside is printed at the end.
listeners=$(mktemp -d)
ss -Hltn | awk '{print $4}' | sort -u >"$listeners/before"
(
  while :; do
    ss -Hltn | awk '{print $4}' >>"$listeners/host"
    "$KIT/nsrun.sh" ss -Hltnp 2>/dev/null | awk '{print $4, $6}' >>"$listeners/inside"
    sleep 2
  done
) &
sampler=$!
rc=0
if [ "${1:-}" = --bench ]; then
  shift
  say "benchmark $*"
  "$KIT/nsrun.sh" node --import tsx "$@" || rc=$?
else
  [ $# -gt 0 ] || set -- test/openpbs/*.test.ts
  say "tests: $*"
  "$KIT/nsrun.sh" node --import tsx --test --test-concurrency=1 --test-reporter=spec "$@" || rc=$?
fi
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
added=$(sort -u "$listeners/host" | comm -13 "$listeners/before" -)
inside=$(sed -E 's/users:\(\("([^"]+)".*/\1/' "$listeners/inside" | sort -u | awk '{print "    " $1 " (" $2 ")"}')
say "listening inside the namespace (it has only lo, 127.0.0.1) during the layer:"
echo "${inside:-    none seen}"
rm -rf "$listeners"
if [ -n "$added" ]; then
  say "listeners that appeared on the machine's own network during the layer: $(echo "$added" | tr '\n' ' ')"
  # Only a failure when nothing else runs beside the layer, as in CI (OPENPBS_HOST_LISTENERS=warn to just report).
  [ "${OPENPBS_HOST_LISTENERS:-fail}" = warn ] || { echo "not ok - the layer listened outside its namespace"; rc=1; }
else
  say "no listener appeared on the machine's own network during the layer"
fi
exit "$rc"
