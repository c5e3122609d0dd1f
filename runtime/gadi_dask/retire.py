"""``run.py retire --name NAME --count K [--qdel] JOB...``: scale a cluster down by K of the given running jobs.

The extension cancels queued jobs itself; running ones come here so that their workers hand their data to the
workers that stay before PBS kills them. Of the candidate jobs, the K least busy are chosen (fewest tasks
processing, then least data held, then the most recently submitted, i.e. the highest sequence number), as
dask-jobqueue lets the scheduler choose which workers to close. Contract in runtime/README.md.
"""
import asyncio
import os
import re
import time

from . import pbs
from .protocol import JOB_ID
from .common import (
    SCHEDULER_FILE, Parser, UsageError, check_name, cluster_dir, emit, parse_worker_name, read_json, tcp_reachable,
)



def _sequence(job_id):
    return int(re.match(r"^\d+", job_id).group(0))


def choose(candidates, groups, count):
    """The `count` jobs to remove: least busy first; a job without connected workers costs nothing to remove."""
    def cost(job_id):
        g = groups.get(job_id) or {}
        return (g.get("processing", 0), g.get("nbytes", 0), -_sequence(job_id))
    return sorted(candidates, key=cost)[:count]


async def _workers_by_job(r, candidates):
    identity = await r.identity()
    groups = {}
    for address, w in (identity.get("workers") or {}).items():
        job = parse_worker_name(w.get("name", ""))["pbsJobId"]
        if job not in candidates:
            continue
        metrics = w.get("metrics") or {}
        g = groups.setdefault(job, {"addresses": [], "names": [], "processing": 0, "nbytes": 0})
        g["addresses"].append(address)
        g["names"].append(str(w.get("name")))
        g["processing"] += int(metrics.get("executing") or 0)
        g["nbytes"] += int(metrics.get("managed_bytes") or 0)
    return groups


async def _retire(cdir, address, candidates, count, timeout):
    from distributed.core import rpc

    from .tls import connection_args

    async with rpc(address, connection_args=connection_args(cdir, address)) as r:
        groups = await _workers_by_job(r, set(candidates))
        chosen = choose(candidates, groups, count)
        addresses = [a for job in chosen for a in (groups.get(job) or {}).get("addresses", [])]
        retired = {}
        if addresses:
            retired = await asyncio.wait_for(
                r.retire_workers(workers=addresses, close_workers=True, remove=True), timeout)
        return chosen, groups, set(retired or {})


def main(argv):
    p = Parser(prog="run.py retire", description="Retire the workers of running jobs, least busy first.")
    p.add_argument("--name", required=True)
    p.add_argument("--count", type=int, required=True, help="how many of the jobs to remove")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds allowed for moving data (default 60)")
    p.add_argument("--qdel", action="store_true", help="qdel the chosen jobs afterwards")
    p.add_argument("jobs", nargs="*", help="candidate PBS job ids")
    args = p.parse_args(argv)
    name = check_name(args.name)
    for job in args.jobs:
        if not JOB_ID.match(job):
            raise UsageError("not a PBS job id: %r" % job)
    count = max(0, min(args.count, len(args.jobs)))
    doc = {"ok": True, "cluster": name, "chosen": [], "workers": {}, "retired": [], "notRetired": [], "qdel": None,
           "warnings": []}
    sched = read_json(os.path.join(cluster_dir(name), SCHEDULER_FILE))
    address = sched.get("address") if isinstance(sched, dict) else None
    groups = {}
    chosen = None
    started = time.time()
    if count and address and tcp_reachable(address, 2.0):
        try:
            chosen, groups, retired = asyncio.run(
                asyncio.wait_for(_retire(cluster_dir(name), address, args.jobs, count, args.timeout), args.timeout + 10))
            for job in chosen:
                for worker_address, worker_name in zip(groups.get(job, {}).get("addresses", []),
                                                       groups.get(job, {}).get("names", [])):
                    (doc["retired"] if worker_address in retired else doc["notRetired"]).append(worker_name)
        except Exception as e:  # the jobs are still removed: the user asked for fewer
            doc["warnings"].append("retiring workers through %s failed after %.0fs: %s: %s" % (
                address, time.time() - started, type(e).__name__, e))
    elif count:
        doc["warnings"].append("no scheduler answers: the jobs are cancelled without retiring their workers")
    if chosen is None:
        chosen = choose(args.jobs, groups, count)
    doc["chosen"] = chosen
    doc["workers"] = {job: groups.get(job, {}).get("names", []) for job in chosen}
    if doc["notRetired"]:
        doc["warnings"].append("workers that could not hand their data over: %s" % ", ".join(doc["notRetired"]))
    if args.qdel and chosen:
        try:
            doc["qdel"] = pbs.qdel(chosen)
        except pbs.PbsError as e:
            doc.update(ok=False, code="qdel", error=str(e), qdel={"error": str(e)})
    emit(doc)
    return 0 if doc["ok"] else 1
