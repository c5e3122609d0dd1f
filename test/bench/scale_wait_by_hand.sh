#!/bin/bash
# The by-hand path of the scale-wait benchmark, in one login shell of the cluster account: N plain qsubs of the
# cluster's own worker job script, then a Dask client waits for the N workers; prints "seconds S", from the first
# qsub to the wait returning. Then deletes the jobs and waits until the scheduler has no worker and PBS lists none.
#   bash -l scale_wait_by_hand.sh N CLUSTER_DIR
set -euo pipefail
n=$1
here=$(cd "$(dirname "$0")" && pwd)
# Where the agent submits from (the jobs' output files land there), and what it keeps: worker.pbs, scheduler.json.
cd "$2"
name=by-hand
start=$(date +%s.%N)
ids=()
for _ in $(seq "$n"); do
  ids+=("$(qsub -N "$name" worker.pbs)")
done
/usr/bin/python3 "$here/scale_wait_client.py" scheduler.json join "$n" "$start"
qdel "${ids[@]}"
/usr/bin/python3 "$here/scale_wait_client.py" scheduler.json leave
for _ in $(seq 600); do
  if [ -z "$(qselect -u "$USER" -N "$name")" ]; then exit 0; fi
  sleep 0.2
done
echo "PBS still lists ${ids[*]}" >&2
exit 1
