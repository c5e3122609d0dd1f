#!/usr/bin/env bash
# The openpbs test layer: real OpenPBS 23.06.06, built from its source archive (checked against the sha256 pinned
# in kit/SHA256SUMS, cached by that hash outside the clone), started in a private network namespace that has only
# 127.0.0.1, and the layer's tests run inside that namespace, so their sshd, Dask processes and PBS's daemons never
# bind or reach an address of the machine itself. Everything started here is stopped by pid on the way out, also
# when a test fails. Without the source archive the layer is skipped with a line that says why.
#   run.sh [TEST_FILE...]        default: every test/openpbs/*.test.ts
#   run.sh --bench FILE [ARGS]   a benchmark under test/bench/ inside the same namespace, instead of the tests
#   run.sh --build               the build alone (test-all.mjs runs it beside an earlier layer)
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
if [ "${1:-}" = --build ]; then say "built"; exit 0; fi
# One run an instance: a second would take the first one's PBS for a stale instance and stop it under its tests.
owner=/run/$instance.owner
if [ -f "$owner" ] && kill -0 "$(cat "$owner")" 2>/dev/null; then
  echo "[openpbs] run $(cat "$owner") is using the instance $instance: wait for it, or set OPENPBS_INSTANCE for this one" >&2
  exit 1
fi
echo $$ >"$owner"
# A stale instance (a run that was killed) goes first; then a cold start: fresh datastore, job ids from 0.
if [ -f "$PBSNS_DIR/kit.env" ]; then bash "$KIT/stop.sh" --force | sed 's/^/  /' || true; fi
say "start in the namespace $PBSNS_DIR (hostname $PBSNS_HOST)"
export GADI_DASK_OPENPBS_MARK="openpbs-$$-$T0"
stopped=0
# shellcheck disable=SC2317  # run by the EXIT trap
stop() {
  [ "$stopped" = 1 ] && return; stopped=1
  if [ -n "${sampler:-}" ]; then kill "$sampler" 2>/dev/null || true; fi
  if [ -n "${side:-}" ]; then kill "$side" 2>/dev/null || true; fi
  say "stop"
  bash "$KIT/stop.sh" --force | sed 's/^/  /' || true
  rm -f "$owner"
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

# While the layer runs, the machine's listening sockets are sampled: none may belong to the layer (everything of it
# listens inside the namespace), and what listens inside is printed at the end. The layer's processes carry its mark
# in their environment (exported before PBS started); what other programs of the machine open meanwhile is theirs.
marked_listeners() {
  local line pid
  ss -Hltnp | while read -r line; do
    for pid in $(grep -o 'pid=[0-9]*' <<<"$line" | cut -d= -f2 || true); do
      if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "GADI_DASK_OPENPBS_MARK=$GADI_DASK_OPENPBS_MARK"; then
        awk '{print $4}' <<<"$line"
      fi
    done
  done
}
listeners=$(mktemp -d)
touch "$listeners/host" "$listeners/inside"
(
  set +e  # a sample that fails is only a sample missed
  while :; do
    marked_listeners >>"$listeners/host"
    "$KIT/nsrun.sh" ss -Hltnp 2>/dev/null | awk '{print $4, $6}' >>"$listeners/inside"
    sleep 2
  done
) &
sampler=$!
run_tests() { "$KIT/nsrun.sh" node --import tsx --test --test-concurrency=1 --test-reporter=spec "$@"; }
rc=0
if [ "${1:-}" = --bench ]; then
  shift
  say "benchmark $*"
  "$KIT/nsrun.sh" node --import tsx "$@" || rc=$?
elif [ $# -gt 0 ]; then
  say "tests: $*"
  run_tests "$@" || rc=$?
else
  # The held size waits minutes on walltimes doing little: it runs beside most files, its output printed after
  # theirs. Two need the server to themselves: the differential scenario, first, lists every user's jobs and fills
  # the node's cores on a server that has run nothing else; the polling test, last, counts the namespace's sockets
  # in TIME_WAIT.
  first=test/openpbs/differential.test.ts
  beside=test/openpbs/holdSize.test.ts
  last=test/openpbs/polling.test.ts
  rest=()
  for f in test/openpbs/*.test.ts; do
    case " $first $beside $last " in *" $f "*) ;; *) rest+=("$f") ;; esac
  done
  say "tests: $first; then $beside beside ${rest[*]}; then $last"
  run_tests "$first" || rc=$?
  side_out=$(mktemp)
  run_tests "$beside" >"$side_out" 2>&1 &
  side=$!
  run_tests "${rest[@]}" || rc=$?
  wait "$side" || rc=$?
  side=""
  cat "$side_out"; rm -f "$side_out"
  run_tests "$last" || rc=$?
fi
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
added=$(sort -u "$listeners/host")
inside=$(sed -E 's/users:\(\("([^"]+)".*/\1/' "$listeners/inside" | sort -u | awk '{print "    " $1 " (" $2 ")"}')
say "listening inside the namespace (it has only lo, 127.0.0.1) during the layer:"
echo "${inside:-    none seen}"
rm -rf "$listeners"
if [ -n "$added" ]; then
  say "listeners of the layer on the machine's own network: $(echo "$added" | tr '\n' ' ')"
  echo "not ok - the layer listened outside its namespace"; rc=1
else
  say "no listener of the layer on the machine's own network"
fi
exit "$rc"
