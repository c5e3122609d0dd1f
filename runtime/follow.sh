#!/usr/bin/env bash
# Follows a run's output (op_run.py) while its PBS job runs: the bytes of <run dir>/output from OFFSET on, on
# stdout, as they are written. Ends once the job ends, with one line on stderr that says how:
#   gadi-dask-run: status N      the file ended with exit status N (runfile.py wrote it)
#   gadi-dask-run: ended N       the job ended without one (qdel, walltime, a node lost); N is PBS's Exit_status, or ?
# PBS is asked about the job every 10 s only (NCI asks for gentle polling); the status file ends it at once.
# Stdin stays open while the client listens: its end (the client left, the link dropped) ends this too.
# Usage: follow.sh RUN_DIR JOB_ID [OFFSET]
set -u
dir=$1
job=$2
offset=${3:-0}
out="$dir/output"
status="$dir/status"

emit() {
  local size
  size=$(stat -c %s "$out" 2>/dev/null) || return 0
  if [ "$size" -gt "$offset" ]; then
    tail -c +"$((offset + 1))" "$out" | head -c "$((size - offset))" || exit 0
    offset=$size
  fi
}

finish_with_status() {
  emit
  printf 'gadi-dask-run: status %s\n' "$(tr -dc '0-9' <"$status")" >&2
  exit 0
}

polls=0
while :; do
  emit
  [ -f "$status" ] && finish_with_status
  polls=$((polls + 1))
  if [ $((polls % 20)) -eq 0 ]; then
    info=$(qstat -x -f -F json "$job" 2>/dev/null)
    rc=$?
    state=$(printf '%s' "$info" | grep -o '"job_state":[[:space:]]*"[A-Z]"' | grep -o '[A-Z]"$' | tr -d '"')
    # Unknown to PBS (153, 35: finished and gone) or finished: whatever it wrote is in the file by now.
    if [ "$state" = F ] || [ "$rc" = 153 ] || [ "$rc" = 35 ]; then
      sleep 1
      [ -f "$status" ] && finish_with_status
      emit
      code=$(printf '%s' "$info" | grep -o '"Exit_status":[[:space:]]*-\{0,1\}[0-9]*' | grep -o -- '-\{0,1\}[0-9]*$')
      printf 'gadi-dask-run: ended %s\n' "${code:-?}" >&2
      exit 0
    fi
  fi
  # Half a second between looks; an end of stdin ends the follow.
  read -r -t 0.5 _
  [ $? -eq 1 ] && exit 0
done
