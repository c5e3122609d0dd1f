#!/bin/bash
# shellcheck disable=SC2015,SC2016,SC2086,SC2116  # word lists split on purpose; `a && b || die` is meant
# start.sh -- start the OpenPBS that build.sh installed (pbs_server + its PostgreSQL datastore, pbs_comm,
# pbs_sched, pbs_mom) inside private namespaces: network (only lo, 127.0.0.1), UTS (hostname $PBSNS_HOST), IPC,
# and mount, in which /etc/hosts maps $PBSNS_HOST to 127.0.0.1, /etc/profile.d is a private copy with PBS's
# pbs.sh, /run/postgresql is a private tmpfs and, if the host has an /etc/pbs.conf, it is shadowed by this one.
# The namespaces are pinned under $PBSNS_DIR, so they outlive this script; enter them with nsrun.sh.
# Idempotent: reuses the namespace, skips daemons that run, re-applies the qmgr settings. Prints each step's time.
#   PREFIX        where build.sh installed PBS                      default /opt/pbs
#   PBS_HOME_DIR  PBS_HOME                                          default: the one build.sh compiled in
#   PBSNS_DIR     namespace pin dir (+ kit.env, daemons, logs/)     default /run/pbsns
#   PBSNS_HOST    hostname inside = PBS server and node name       default pbsns
#   PBS_USER      unprivileged submitter, created if missing       default pbsuser
#   NODE_NCPUS    resources_available.ncpus of the node (0: as detected)   default 4
#   QUEUES        execution queues to create/enable; the first is the default queue   default "normal workq"
#   MOM_CONFIG    more lines for mom_priv/config (one a line)
#   RESET=1       wipe PBS_HOME first (a cold start: new datastore, job ids from 0)
set -euo pipefail
KIT=$(cd "$(dirname "$0")" && pwd)
PREFIX=${PREFIX:-/opt/pbs}; PREFIX=${PREFIX%/}
STAMP=$PREFIX/.openpbs-kit-stamp
NSDIR=${PBSNS_DIR:-/run/pbsns}; NSDIR=${NSDIR%/}
NSHOST=${PBSNS_HOST:-pbsns}
PBS_USER=${PBS_USER:-pbsuser}
NODE_NCPUS=${NODE_NCPUS:-4}
QUEUES=${QUEUES:-normal workq}
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
T_ALL=$(date +%s.%N); T=$T_ALL
since() { awk -v a="$(date +%s.%N)" -v b="$1" 'BEGIN { printf "%.1f", a - b }'; }
say() { echo "[start] $*"; }
done_step() { say "  ... $1: $(since "$T") s"; T=$(date +%s.%N); }
die() { echo "[start] ERROR: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root"
[ -f "$STAMP" ] && [ -x "$PREFIX/sbin/pbs_server.bin" ] || die "$PREFIX holds no build of this kit (run build.sh)"
PBS_CONF=$(sed -n 's/^PBS_CONF=//p' "$STAMP")              # compiled into the binaries by build.sh
PBS_HOME_DIR=${PBS_HOME_DIR:-$(sed -n 's/^PBS_HOME_DIR=//p' "$STAMP")}; PBS_HOME_DIR=${PBS_HOME_DIR%/}
PH=$PBS_HOME_DIR
export PBSNS_DIR=$NSDIR
NS="$KIT/nsrun.sh"
# PBS's daemons and scripts start from a clean environment (no PYTHONPATH, LD_* or the like from the caller).
CLEAN=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root PBS_CONF_FILE="$PBS_CONF")
LOGS=$NSDIR/logs
id postgres >/dev/null 2>&1 || die "user postgres missing (Debian's postgresql package makes it; run build.sh)"

# 1. The namespaces.
ns_up() { for ns in net uts mnt ipc; do findmnt -n "$NSDIR/$ns" >/dev/null 2>&1 || return 1; done; }
ns_inode() { stat -L -c %i "$NSDIR/net"; }
want_env=$(printf 'PREFIX=%s\nPBS_HOME_DIR=%s\nPBS_CONF=%s\nPBSNS_HOST=%s\nPBS_USER=%s\n' \
  "$PREFIX" "$PH" "$PBS_CONF" "$NSHOST" "$PBS_USER")
pinned=""; for ns in net uts mnt ipc; do findmnt -n "$NSDIR/$ns" >/dev/null 2>&1 && pinned="$pinned $ns"; done
if [ -n "$pinned" ] && [ ! -f "$NSDIR/kit.env" ]; then
  die "namespaces ($pinned) are pinned at $NSDIR but not by this kit (no kit.env): choose another PBSNS_DIR"
fi
if ns_up; then
  [ "$(cat "$NSDIR/kit.env")" = "$want_env" ] \
    || die "the namespace at $NSDIR was made for other settings: $(tr '\n' ' ' <"$NSDIR/kit.env")"
  say "namespace: reusing $NSDIR"
else
  [ -z "$pinned" ] || die "$NSDIR is half set up ($pinned); run stop.sh first"
  say "namespace: creating net+uts+ipc+mnt namespaces pinned at $NSDIR (hostname $NSHOST)"
  mkdir -p "$NSDIR/profile.d" "$LOGS"
  findmnt -n "$NSDIR" >/dev/null 2>&1 || mount --bind "$NSDIR" "$NSDIR"
  mount --make-private "$NSDIR"
  touch "$NSDIR/net" "$NSDIR/uts" "$NSDIR/mnt" "$NSDIR/ipc" "$NSDIR/hosts" "$NSDIR/pbs.conf"
  # private /etc/profile.d: the host's scripts except PBS's own, plus ours (written below)
  mkdir -p /etc/profile.d
  find "$NSDIR/profile.d" -mindepth 1 -delete
  for f in /etc/profile.d/*; do
    case "${f##*/}" in pbs.sh|pbs.csh|'*') ;; *) cp -a "$f" "$NSDIR/profile.d/";; esac
  done
  shadow=""; [ -f /etc/pbs.conf ] && shadow="mount --bind '$NSDIR/pbs.conf' /etc/pbs.conf"
  printf '%s\n' "$want_env" >"$NSDIR/kit.env"
  if ! unshare --net="$NSDIR/net" --uts="$NSDIR/uts" --ipc="$NSDIR/ipc" --mount="$NSDIR/mnt" --propagation private /bin/sh -ec "
    hostname '$NSHOST'
    ip link set lo up
    mount --bind '$NSDIR/hosts' /etc/hosts
    mount --bind '$NSDIR/profile.d' /etc/profile.d
    $shadow
    mkdir -p /run/postgresql
    mount -t tmpfs -o mode=2775,size=16m openpbs-kit-pgsock /run/postgresql
    chown postgres:postgres /run/postgresql"; then
    for ns in net uts mnt ipc; do umount "$NSDIR/$ns" 2>/dev/null; done
    die "could not create the namespaces (run in the machine's initial mount namespace: pinning a mount namespace
       from inside another one, e.g. a container or unshare -m, fails with EINVAL on Linux 6.18 here)"
  fi
fi
printf '%s\n' "$want_env" >"$NSDIR/kit.env"
mkdir -p "$LOGS"
# Files the namespace sees through bind mounts are rewritten in place (same inode), so a reused namespace sees them.
# /etc/hosts: $NSHOST first, so 127.0.0.1 maps back to it (PBS names server, node and jobs, N.$NSHOST, after the
# reverse lookup of its address; with localhost first, jobs would be N.localhost).
printf '127.0.0.1\t%s localhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$NSHOST" >"$NSDIR/hosts"
cat >"$NSDIR/profile.d/pbs.sh" <<EOF
# openpbs-kit ($KIT): PBS for login shells inside the namespace $NSDIR
export PBS_CONF_FILE=$PBS_CONF
case ":\$PATH:" in *:$PREFIX/bin:*) ;; *) PATH="\$PATH:$PREFIX/bin";; esac
[ "\$(id -u)" = 0 ] && case ":\$PATH:" in *:$PREFIX/sbin:*) ;; *) PATH="\$PATH:$PREFIX/sbin";; esac
export PATH MANPATH="\${MANPATH:-}:$PREFIX/share/man"
EOF
links=$("$NS" ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')
[ "$links" = "lo " ] || die "namespace has interfaces other than lo: $links"
[ "$("$NS" hostname)" = "$NSHOST" ] || die "namespace hostname is not $NSHOST"
[ "$("$NS" getent hosts "$NSHOST" | awk '{print $1}')" = 127.0.0.1 ] || die "$NSHOST does not resolve to 127.0.0.1 inside"
[ "$("$NS" getent hosts 127.0.0.1 | awk '{print $2}')" = "$NSHOST" ] || die "127.0.0.1 does not map back to $NSHOST inside"
say "namespace ok: links [$links], hostname $NSHOST <-> 127.0.0.1"
done_step "namespace"

# Daemons: alive = the pid in its lock file exists, has the right name and sits in this network namespace.
alive() { [ -n "${2:-}" ] && [ -r "/proc/$2/comm" ] && [ "$(cat "/proc/$2/comm")" = "$1" ] \
          && [ "$(stat -L -c %i "/proc/$2/ns/net" 2>/dev/null)" = "$(ns_inode)" ]; }
lockpid() { [ -f "$1" ] && head -1 "$1" | tr -d '[:space:]' || true; }
LOCKS="pbs_comm:$PH/server_priv/comm.lock pbs_mom:$PH/mom_priv/mom.lock pbs_sched:$PH/sched_priv/sched.lock
       pbs_server.bin:$PH/server_priv/server.lock"
for nl in $LOCKS; do   # a daemon of this PBS_HOME running elsewhere (another namespace) would be a clash
  p=$(lockpid "${nl#*:}")
  if [ -n "$p" ] && [ -r "/proc/$p/comm" ] && [ "$(cat "/proc/$p/comm")" = "${nl%%:*}" ] && ! alive "${nl%%:*}" "$p"; then
    die "${nl%%:*} (pid $p) runs with PBS_HOME $PH outside $NSDIR"
  fi
done

# PBS_HOME must be this install's: start.sh marks the ones it sets up, and refuses (RESET included) any other
# existing PBS_HOME, e.g. another PBS's /var/spool/pbs.
OWNER=$PH/.openpbs-kit-prefix
if [ -f "$PH/pbs_version" ] && [ "$(cat "$OWNER" 2>/dev/null)" != "$PREFIX" ]; then
  die "PBS_HOME $PH was not set up by this kit for $PREFIX (${OWNER##*/}: $(cat "$OWNER" 2>/dev/null || echo none)); choose another PBS_HOME_DIR"
fi

# 2. The unprivileged user.
id "$PBS_USER" >/dev/null 2>&1 || { say "creating user $PBS_USER"; useradd -m -s /bin/bash "$PBS_USER"; }
done_step "user $PBS_USER"

# 3. pbs.conf at the compiled-in path (and, in place, the copy that shadows a host /etc/pbs.conf inside).
cat >"$NSDIR/pbs.conf" <<EOF
PBS_EXEC=$PREFIX
PBS_HOME=$PH
PBS_SERVER=$NSHOST
PBS_START_SERVER=1
PBS_START_SCHED=1
PBS_START_COMM=1
PBS_START_MOM=1
PBS_CORE_LIMIT=unlimited
EOF
cmp -s "$NSDIR/pbs.conf" "$PBS_CONF" || install -m 644 "$NSDIR/pbs.conf" "$PBS_CONF"
done_step "pbs.conf $PBS_CONF"

# 4. PBS_HOME + datastore, the first time: pbs_habitat runs pbs_postinstall (directories, pbs_environment, sched
#    config), initdb's the datastore (port 15007), `pbs_server -t create`, queue workq, the node; stops the server.
if [ "${RESET:-0}" = 1 ]; then
  for nl in $LOCKS; do alive "${nl%%:*}" "$(lockpid "${nl#*:}")" && die "RESET=1 while ${nl%%:*} runs: stop.sh first"; done
  say "RESET=1: removing $PH"; rm -rf "$PH"
fi
if [ ! -f "$PH/pbs_version" ] || [ ! -d "$PH/datastore" ]; then
  say "pbs_habitat (first start: PBS_HOME + datastore; log $LOGS/habitat.log)"
  "$NS" "${CLEAN[@]}" "$PREFIX/libexec/pbs_habitat" >"$LOGS/habitat.log" 2>&1 || { tail -20 "$LOGS/habitat.log"; die "pbs_habitat failed"; }
  echo "$PREFIX" >"$OWNER"
fi
# The daemons replace their environment with pbs_environment; keep PBS_CONF_FILE in it for the shell scripts
# PBS runs (they fall back to /etc/pbs.conf otherwise).
grep -qx "PBS_CONF_FILE=$PBS_CONF" "$PH/pbs_environment" || echo "PBS_CONF_FILE=$PBS_CONF" >>"$PH/pbs_environment"
# MoM: deliver job output with cp (the destination is this host); jobs' TMPDIRs in this instance's PBS_HOME, as
# /var/tmp/pbs.<id> is shared with any other instance (same host name, ids from 0) and outlives a reset.
# MOM_CONFIG: more lines for it (e.g. its polling interval, which bounds how late a walltime is enforced).
mkdir -p "$PH/tmp" && chmod 1777 "$PH/tmp"
mom_lines=("\$clienthost $NSHOST" '$usecp *:/home/ /home/' '$usecp *:/tmp/ /tmp/' "\$tmpdir $PH/tmp")
while IFS= read -r line; do [ -n "$line" ] && mom_lines+=("$line"); done <<<"${MOM_CONFIG:-}"
for line in "${mom_lines[@]}"; do
  grep -qxF -- "$line" "$PH/mom_priv/config" 2>/dev/null || echo "$line" >>"$PH/mom_priv/config"
done
done_step "PBS_HOME $PH"

# 5. Daemons.
start_daemon() {  # name lockfile command...
  local name=$1 lock=$2; shift 2
  if alive "$name" "$(lockpid "$lock")"; then say "$name already running (pid $(lockpid "$lock"))"; return; fi
  "$NS" "${CLEAN[@]}" "$@" >>"$LOGS/daemons.log" 2>&1 || die "$name failed to start (see $LOGS/daemons.log, $PH/*_logs)"
  for _ in $(seq 50); do alive "$name" "$(lockpid "$lock")" && break; sleep 0.2; done
  alive "$name" "$(lockpid "$lock")" || die "$name did not come up (see $LOGS/daemons.log, $PH/*_logs)"
  say "$name started (pid $(lockpid "$lock"))"
}
start_daemon pbs_comm "$PH/server_priv/comm.lock" "$PREFIX/sbin/pbs_comm"
start_daemon pbs_mom "$PH/mom_priv/mom.lock" "$PREFIX/sbin/pbs_mom"
start_daemon pbs_sched "$PH/sched_priv/sched.lock" "$PREFIX/sbin/pbs_sched"
start_daemon pbs_server.bin "$PH/server_priv/server.lock" "$PREFIX/sbin/pbs_server"
for _ in $(seq 120); do "$NS" qstat -B >/dev/null 2>&1 && break; sleep 0.5; done
"$NS" qstat -B >/dev/null 2>&1 || die "the server does not answer qstat -B"
done_step "daemons"

# 6. Server configuration (re-applied each time; `set` is idempotent).
q() { "$NS" qmgr -c "$1" || die "qmgr -c '$1' failed"; }
for qu in $QUEUES; do
  "$NS" qmgr -c "list queue $qu" >/dev/null 2>&1 || q "create queue $qu queue_type=execution"
  q "set queue $qu queue_type = execution"; q "set queue $qu enabled = true"; q "set queue $qu started = true"
done
q "set server default_queue = ${QUEUES%% *}"
q 'set server flatuid = true'
q 'set server job_history_enable = true'
q 'set server scheduling = true'
"$NS" pbsnodes "$NSHOST" >/dev/null 2>&1 || q "create node $NSHOST"
[ "$NODE_NCPUS" = 0 ] || q "set node $NSHOST resources_available.ncpus = $NODE_NCPUS"
"$NS" -u "$PBS_USER" qstat -B >/dev/null || die "$PBS_USER cannot talk to the server"
done_step "qmgr"

# 7. Wait until the MoM has reported and the node is free.
state=""
for _ in $(seq 120); do
  state=$("$NS" pbsnodes "$NSHOST" 2>/dev/null | awk -F' = ' '/^ *state = /{print $2}')
  [ "$state" = free ] && break; sleep 0.5
done
[ "$state" = free ] || die "node $NSHOST is '$state', not free"
done_step "node $NSHOST free"

# 8. Record the pids for stop.sh (pbs_server starts the postgres postmaster itself).
{ for nl in $LOCKS; do echo "${nl%%:*} $(lockpid "${nl#*:}")"; done
  [ -f "$PH/datastore/postmaster.pid" ] && echo "postgres $(head -1 "$PH/datastore/postmaster.pid")"; } >"$NSDIR/daemons"
say "daemons (name pid), also in $NSDIR/daemons:"; sed 's/^/[start]     /' "$NSDIR/daemons"
"$NS" qstat -Q
say "total: $(since "$T_ALL") s"
say "as $PBS_USER: PBSNS_DIR=$NSDIR $NS -u $PBS_USER qstat -f -F json     stop: PBSNS_DIR=$NSDIR $KIT/stop.sh"
