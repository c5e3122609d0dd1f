#!/bin/bash
# shellcheck disable=SC2015,SC2016,SC2086,SC2116  # word lists split on purpose; `a && b || die` is meant
# stop.sh [--keep-ns | --force] -- stop what start.sh started, by pid only (the pids in $PBSNS_DIR/daemons, each
# checked for its name before it is signalled): pbs_server (asked first with `qterm -t quick`), pbs_sched, pbs_mom
# (which kills running jobs), pbs_comm, the postgres postmaster. Then, if no process is left in the namespace,
# releases it (unmounts the pins under $PBSNS_DIR). Other processes left inside (an sshd or a job's stray child
# that a test started) are listed and the namespace is kept for them; --force TERMs (then KILLs) them and releases
# the namespace; --keep-ns always keeps it. PBS_HOME, the datastore and the user are kept: the next start is warm.
#   PBSNS_DIR  default /run/pbsns; it must have been made by this kit's start.sh ($PBSNS_DIR/kit.env)
set -uo pipefail
NSDIR=${PBSNS_DIR:-/run/pbsns}; NSDIR=${NSDIR%/}
KIT=$(cd "$(dirname "$0")" && pwd)
NS="$KIT/nsrun.sh"
export PBSNS_DIR=$NSDIR PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mode=${1:-}
T0=$(date +%s.%N)
say() { echo "[stop] $(awk -v a="$(date +%s.%N)" -v b="$T0" 'BEGIN { printf "%5.1f", a - b }')s $*"; }
[ "$(id -u)" = 0 ] || { say "run as root"; exit 1; }
[ -f "$NSDIR/kit.env" ] || { say "$NSDIR/kit.env missing: nothing of this kit's there (not touching it)"; exit 1; }

alive() { [ -n "${2:-}" ] && [ -r "/proc/$2/comm" ] && [ "$(cat "/proc/$2/comm")" = "$1" ]; }
wait_gone() { local _; for _ in $(seq $((${3:-30} * 10))); do alive "$1" "$2" || return 0; sleep 0.1; done; return 1; }
stop_pid() {  # name pid signal
  local name=$1 pid=$2 sig=${3:-TERM}
  if ! alive "$name" "$pid"; then say "$name (pid ${pid:-?}) is not running"; return; fi
  say "kill -$sig $pid ($name)"; kill -"$sig" "$pid"
  wait_gone "$name" "$pid" 30 || { say "$name (pid $pid) still there after 30 s: kill -KILL $pid"; kill -KILL "$pid"; wait_gone "$name" "$pid" 5; }
}

if [ -f "$NSDIR/daemons" ]; then
  declare -A pid
  while read -r name p; do pid[$name]=$p; done <"$NSDIR/daemons"
  if alive pbs_server.bin "${pid[pbs_server.bin]:-}"; then   # clean shutdown through the server first
    say "qterm -t quick (pbs_server pid ${pid[pbs_server.bin]})"
    "$NS" qterm -t quick || true
    wait_gone pbs_server.bin "${pid[pbs_server.bin]}" 30 || stop_pid pbs_server.bin "${pid[pbs_server.bin]}" TERM
  fi
  # sched, mom and comm each take ~2 s to exit on TERM: signal all three, then wait for each.
  for n in pbs_sched pbs_mom pbs_comm; do
    p=${pid[$n]:-}
    if alive "$n" "$p"; then say "kill -TERM $p ($n)"; kill -TERM "$p"; else say "$n (pid ${p:-?}) is not running"; fi
  done
  for n in pbs_sched pbs_mom pbs_comm; do
    p=${pid[$n]:-}
    wait_gone "$n" "$p" 30 || { say "$n (pid $p) still there after 30 s: kill -KILL $p"; kill -KILL "$p"; wait_gone "$n" "$p" 5; }
  done
  # pbs_server stops its datastore on shutdown; if not, SIGINT = postgres "fast" shutdown.
  stop_pid postgres "${pid[postgres]:-}" INT
  rm -f "$NSDIR/daemons"
else
  say "no $NSDIR/daemons: nothing recorded as started"
fi

in_ns() {  # pids whose network namespace is the pinned one
  local id d; id=$(stat -L -c %i "$NSDIR/net")
  for d in /proc/[0-9]*; do [ "$(stat -L -c %i "$d/ns/net" 2>/dev/null)" = "$id" ] && echo "${d#/proc/}"; done
}
pinned=""; for ns in net uts mnt ipc; do findmnt -n "$NSDIR/$ns" >/dev/null 2>&1 && pinned="$pinned $ns"; done
if [ -n "$pinned" ]; then
  left=""; case "$pinned" in *net*) left=$(in_ns | tr '\n' ' ');; esac
  if [ -n "$left" ] && [ "$mode" = --force ]; then
    say "--force: TERM to what is left in the namespace: $left"
    for p in $left; do ps -o pid=,user=,args= -p "$p" | sed 's/^/[stop]   /'; kill -TERM "$p" 2>/dev/null; done
    for _ in $(seq 50); do left=$(in_ns | tr '\n' ' '); [ -z "$left" ] && break; sleep 0.2; done
    [ -z "$left" ] || { say "KILL: $left"; kill -KILL $left 2>/dev/null; sleep 0.5; left=$(in_ns | tr '\n' ' '); }
  fi
  if [ -n "$left" ]; then
    say "processes still in the namespace (not started by start.sh; left alone, --force ends them):"
    for p in $left; do ps -o pid=,user=,args= -p "$p" | sed 's/^/[stop]   /'; done
    say "namespace kept at $NSDIR"
  elif [ "$mode" = --keep-ns ]; then
    say "namespace kept at $NSDIR (--keep-ns)"
  else
    for ns in $pinned; do umount "$NSDIR/$ns" || say "umount $NSDIR/$ns failed"; done
    rm -f "$NSDIR/net" "$NSDIR/uts" "$NSDIR/mnt" "$NSDIR/ipc"
    umount "$NSDIR" 2>/dev/null || true
    say "namespace released"
  fi
fi
say "done"
