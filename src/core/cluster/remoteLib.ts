// The shell functions every remote script of the lifecycle starts with (bash: the transports run commands in a
// login bash). Constant text: values reach it only through the variables the builders in remoteScript.ts assign,
// each one shell-quoted. Variables it reads: gd_m (marker), gd_name, gd_c (cluster dir), gd_rt (runtime dir),
// gd_hash, gd_py, gd_prologue, gd_lock_wait, gd_lock_ttl, gd_client, gd_worker_script, gd_scheduler_script,
// gd_scheduler_args, gd_adapt_head.
//
// Output framing: `<marker>:<tag>` lines (see output.ts). Job ids are checked against PBS's id pattern before they
// are used or recorded.

export const REMOTE_LIB = `set +e +u
gd_idre='^[0-9]+(\\[[0-9]*\\])?(\\.[A-Za-z0-9][A-Za-z0-9._-]*)?$'
gd_namere='^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'
gd_host=\${HOSTNAME:-$(hostname 2>/dev/null)}
gd_mark() { printf '\\n%s:%s\\n' "$gd_m" "$1"; }
# qdel the given ids; prints its exit code, the ids and qdel's output between markers (read by qdelSections in applyResult.ts).
gd_qdel() {
  qdel "$@" >"$gd_t/qdel" 2>&1
  gd_mark "qdel:$?"
  printf '%s\\n' "$@"
  gd_mark qdel-out
  cat "$gd_t/qdel"
}
gd_t=$(mktemp -d 2>/dev/null) || { gd_t="\${TMPDIR:-/tmp}/gadi-dask.$$"; mkdir -p "$gd_t"; }
gd_locked=
gd_exit() {
  [ -n "$gd_locked" ] && rm -rf "$gd_c/.lock"
  rm -rf "$gd_t"
}
trap gd_exit EXIT
trap 'exit 143' TERM HUP INT

# The job-script-prologue (module load, venv activation) runs once, on demand, in this shell, before any python.
gd_prepped=
gd_prep() {
  [ -n "$gd_prepped" ] && return 0
  gd_prepped=1
  eval "$gd_prologue" >"$gd_t/prologue.log" 2>&1 </dev/null
  set +e +u
  cd "$gd_c" 2>/dev/null || cd "$HOME"
  return 0
}
gd_py_run() { gd_prep; "$gd_py" "$gd_rt/run.py" "$@"; }
gd_runtime_ok() {
  [ -f "$gd_rt/run.py" ] && grep -q "\\"hash\\": *\\"$gd_hash\\"" "$gd_rt/.gadi-dask-runtime.json" 2>/dev/null
}

# The cluster's lock: a directory (mkdir is atomic on NFS and Lustre). Broken when its owner's deadline has passed
# or its owner process on this host is gone.
gd_lock() {
  local lock="$gd_c/.lock" tries=0 pid host until rest stale now
  while ! mkdir "$lock" 2>/dev/null; do
    [ -d "$gd_c" ] || return 2
    now=$(date +%s)
    pid= host= until= stale=
    read -r pid host until rest <"$lock/owner" 2>/dev/null
    if [ -n "$until" ] && [ "$now" -gt "$until" ] 2>/dev/null; then
      stale=1
    elif [ -n "$pid" ] && [ "$host" = "$gd_host" ] && ! kill -0 "$pid" 2>/dev/null; then
      stale=1
    elif [ -z "$pid" ] && [ -n "$(find "$lock" -maxdepth 0 -mmin +2 2>/dev/null)" ]; then
      stale=1
    fi
    if [ -n "$stale" ]; then
      rm -rf "$lock"
      continue
    fi
    [ "$tries" -ge $((gd_lock_wait * 5)) ] && return 1
    sleep 0.2
    tries=$((tries + 1))
  done
  printf '%s %s %s %s\\n' "$$" "$gd_host" "$(($(date +%s) + gd_lock_ttl))" "$gd_client" >"$lock/owner"
  gd_locked=1
}

# The cluster's jobs: the scheduler job and worker jobs from the jobs file, plus the jobs adaptivity tracks.
gd_read_jobs() {
  local id role when
  gd_sid=
  gd_wids=()
  gd_adopted=()
  unset gd_state gd_known
  declare -gA gd_state=() gd_known=()
  if [ -f jobs ]; then
    while read -r id role when; do
      [[ $id =~ $gd_idre ]] || continue
      if [ "$role" = scheduler ]; then
        gd_sid=$id
      elif [ -z "\${gd_known[$id]+x}" ]; then
        gd_known[$id]=1
        gd_wids+=("$id")
      fi
    done <jobs
  fi
  if [ -f adapt-state.json ]; then
    while read -r id; do
      [[ $id =~ $gd_idre ]] || continue
      if [ -z "\${gd_known[$id]+x}" ]; then
        gd_known[$id]=1
        gd_wids+=("$id")
        gd_adopted+=("$id")
      fi
    done < <(grep -o '"id": *"[^"]*"' adapt-state.json | sed 's/.*"\\([^"]*\\)"$/\\1/')
  fi
  gd_all=()
  [ -n "$gd_sid" ] && gd_all+=("$gd_sid")
  gd_all+=("\${gd_wids[@]}")
}

# One qstat for every job: the state letter of each job PBS still has (finished ones are left out). Fails when PBS
# did not answer: then nothing may be decided from the (empty) result.
gd_qstat_states() {
  local rc id st
  [ \${#gd_all[@]} -eq 0 ] && return 0
  qstat -f "\${gd_all[@]}" >"$gd_t/qf" 2>"$gd_t/qf.err"
  rc=$?
  while read -r id st; do
    gd_state[$id]=$st
  done < <(awk '/^Job Id: /{id=$3} /^[ \\t]+job_state = /{print id, $3}' "$gd_t/qf")
  case $rc in 0 | 35 | 153) ;; *) return 1 ;; esac
  if grep -v -e 'Job has finished' -e 'Unknown Job Id' "$gd_t/qf.err" | grep -q .; then return 1; fi
  return 0
}
gd_active() { case "\${gd_state[$1]-}" in '' | F | X | M | E) return 1 ;; *) return 0 ;; esac; }
gd_queued() { case "\${gd_state[$1]-}" in Q | H | W | T) return 0 ;; *) return 1 ;; esac; }
gd_print_state() {
  local id
  gd_mark state
  for id in "\${gd_all[@]}"; do printf '%s %s\\n' "$id" "\${gd_state[$id]:--}"; done
}

# Adds to gd_done the ids of "$@" that qdel (its output in $gd_t/qdel) did not complain about, or only as ended.
gd_qdel_ok() {
  local id
  for id in "$@"; do
    grep -wF -- "$id" "$gd_t/qdel" | grep -v -e 'Unknown Job Id' -e 'has finished' | grep -q . || gd_done+=("$id")
  done
}

gd_write() { # file text: atomically, as the launcher may read it at any moment
  printf '%s' "$2" >"$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"
}

gd_env_check() {
  local rc
  gd_py_run env >"$gd_t/env" 2>&1
  rc=$?
  [ $rc -eq 0 ] && return 0
  gd_mark "env:$rc"
  cat "$gd_t/env"
  gd_mark prologue
  cat "$gd_t/prologue.log"
  return 1
}

# A scheduler of this cluster that answers, whoever started it.
gd_scheduler_answers() {
  [ -f scheduler.json ] && [ -f "$gd_rt/run.py" ] || return 1
  gd_py_run status --name "$gd_name" --timeout 5 >"$gd_t/status" 2>/dev/null
  grep -q '"ok":true' "$gd_t/status"
}

gd_ensure_scheduler() { # placement: job | login
  local out rc id
  if [ -n "$gd_sid" ] && gd_active "$gd_sid"; then
    gd_mark "sched:job:$gd_sid:\${gd_state[$gd_sid]}"
    return 0
  fi
  if gd_scheduler_answers; then
    gd_mark sched:answers
    cat "$gd_t/status"
    return 0
  fi
  gd_env_check || return 1
  if [ "$1" = job ]; then
    gd_write scheduler.pbs "$gd_scheduler_script"
    out=$(qsub scheduler.pbs 2>"$gd_t/err")
    rc=$?
    id=$(printf '%s\\n' "$out" | grep -E "$gd_idre" | tail -n 1)
    gd_mark "sched:submit:$rc"
    printf '%s\\n' "$out"
    gd_mark sched:submit-err
    cat "$gd_t/err"
    [ $rc -eq 0 ] && [ -n "$id" ] || return 1
    printf '%s scheduler %s\\n' "$id" "$(date +%s)" >>jobs
    gd_sid=$id
    gd_state[$id]=Q
  else
    gd_py_run scheduler "\${gd_scheduler_args[@]}" --detach --wait 60 >"$gd_t/start" 2>&1
    rc=$?
    gd_mark "sched:login:$rc"
    cat "$gd_t/start"
    [ $rc -eq 0 ] || return 1
  fi
  return 0
}

# Adaptivity off: the launcher stops adapting; the jobs it tracked become ordinary jobs of the cluster.
gd_adapt_off() {
  local id had=0
  [ -f adapt.json ] && had=1
  rm -f adapt.json
  for id in "\${gd_adopted[@]}"; do
    gd_active "$id" && printf '%s worker %s\\n' "$id" "$(date +%s)" >>jobs
  done
  gd_mark "adapt-off:$had"
}

gd_adapt_on() { # the JSON up to its "jobs" list comes from the caller; the live worker jobs are added here
  local ids=() id
  for id in "\${gd_wids[@]}"; do gd_active "$id" && ids+=("\\"$id\\""); done
  gd_write adapt.json "$gd_adapt_head$(IFS=,; printf '%s' "\${ids[*]}")]}"
  gd_mark "adapt-on:\${#ids[@]}"
}

gd_scale() { # target number of worker jobs
  local target=$1 q=() r=() id n need i out rc dep=() cancel=() left j
  for id in "\${gd_wids[@]}"; do
    case "\${gd_state[$id]-}" in
      '' | F | X | M | E) ;;
      Q | H | W | T) q+=("$id") ;;
      *) r+=("$id") ;;
    esac
  done
  n=$((\${#q[@]} + \${#r[@]}))
  need=$((target - n))
  gd_mark "scale:$n:\${#q[@]}:\${#r[@]}:$target"
  if [ $need -gt 0 ]; then
    # Workers wait for the scheduler's job to start (-W depend on the command line; the script stays PBSCluster's).
    [ -n "$gd_sid" ] && gd_queued "$gd_sid" && dep=(-W "depend=after:$gd_sid")
    i=0
    while [ $i -lt $need ]; do
      out=$(qsub "\${dep[@]}" worker.pbs 2>"$gd_t/err")
      rc=$?
      id=$(printf '%s\\n' "$out" | grep -E "$gd_idre" | tail -n 1)
      gd_mark "sub:$i:$rc"
      printf '%s\\n' "$out"
      gd_mark "sub-err:$i"
      cat "$gd_t/err"
      # The next qsub would be refused for the same reason.
      [ $rc -eq 0 ] && [ -n "$id" ] || break
      printf '%s worker %s\\n' "$id" "$(date +%s)" >>jobs
      gd_wids+=("$id")
      gd_state[$id]=Q
      i=$((i + 1))
    done
  elif [ $need -lt 0 ]; then
    # Queued jobs go first, newest first: they cost nothing and hold no data.
    for ((j = \${#q[@]} - 1; j >= 0 && \${#cancel[@]} < -need; j--)); do cancel+=("\${q[j]}"); done
    if [ \${#cancel[@]} -gt 0 ]; then gd_qdel "\${cancel[@]}"; fi
    left=$((-need - \${#cancel[@]}))
    if [ $left -gt 0 ]; then
      # Running jobs: the scheduler retires their workers (their data moves to the workers that stay), then qdel.
      gd_py_run retire --name "$gd_name" --count "$left" --qdel "\${r[@]}" >"$gd_t/retire" 2>&1
      rc=$?
      gd_mark "retire:$rc"
      cat "$gd_t/retire"
      if ! grep -q '^@@GADI_DASK_END@@' "$gd_t/retire"; then
        cancel=()
        for ((j = \${#r[@]} - 1; j >= 0 && \${#cancel[@]} < left; j--)); do cancel+=("\${r[j]}"); done
        gd_qdel "\${cancel[@]}"
      fi
    fi
  fi
}

# Forget jobs that ended more than a day ago.
gd_prune() {
  local id role when now
  [ -f jobs ] || return 0
  now=$(date +%s)
  while read -r id role when; do
    [[ $id =~ $gd_idre ]] && [[ $when =~ ^[0-9]+$ ]] || continue
    if gd_active "$id" || [ $((now - when)) -lt 86400 ]; then
      printf '%s %s %s\\n' "$id" "$role" "$when"
    fi
  done <jobs >"jobs.tmp.$$" && mv -f "jobs.tmp.$$" jobs
}
`;
