"""``run.py shutdown --name NAME``: retire the workers, stop the scheduler, clean the cluster's state, and list the
PBS jobs that belong to it (cancelled here only with ``--qdel``). Contract in runtime/README.md."""
import asyncio
import os
import shutil
import signal
import socket
import time

from . import pbs
from .common import (
    ADAPT_REQUEST_FILE, ADAPT_STATE_FILE, METADATA_FILE, SCHEDULER_FILE, Parser, check_name, cluster_dir, emit,
    is_our_process, now_iso, parse_worker_name, read_json, remove_file, tcp_reachable, write_json_atomic,
)


async def _ask_to_stop(cdir, address, timeout, retire):
    from distributed.core import rpc

    from .tls import connection_args

    async with rpc(address, connection_args=connection_args(cdir, address)) as r:
        try:
            reply = await r.gadi_dask_shutdown(timeout=timeout, retire=retire)
        except Exception:
            reply = None
        if isinstance(reply, dict) and reply.get("ok"):
            return reply
        # A scheduler this runtime did not start: note its workers' jobs, then close it the plain way.
        identity = await r.identity()
        names = sorted(str(w.get("name")) for w in (identity.get("workers") or {}).values())
        try:
            await r.terminate(reply=False)
        except Exception:
            pass
        jobs = {parse_worker_name(n)["pbsJobId"] for n in names} - {None}
        return {"ok": True, "workers": names, "retired": [], "workerJobIds": sorted(jobs), "plain": True}


def _wait_stopped(meta_path, pid_local, deadline, gone=None):
    """Until runtime.json says stopped (and a launcher on this host has left), or `gone()` says no launcher is left
    to say it."""
    while time.time() < deadline:
        meta = read_json(meta_path)
        done = isinstance(meta, dict) and meta.get("state") in ("stopped", "failed")
        if done and not (pid_local and is_our_process(pid_local)):
            return True
        if gone is not None and gone():
            return True
        time.sleep(0.1)
    return False


def main(argv):
    p = Parser(prog="run.py shutdown", description="Stop a cluster and list its PBS jobs.")
    p.add_argument("--name", required=True)
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a clean stop (default 30)")
    p.add_argument("--no-retire", dest="retire", action="store_false",
                   help="stop without retiring the workers first (their jobs are being cancelled: nothing to keep)")
    p.add_argument("--job-cancelled", action="store_true",
                   help="its running PBS job was just cancelled: wait for its launcher to stop on PBS's SIGTERM")
    p.add_argument("--qdel", action="store_true", help="also qdel every job listed in jobIds")
    p.add_argument("--purge", action="store_true", help="remove the whole cluster directory afterwards")
    args = p.parse_args(argv)
    name = check_name(args.name)
    deadline = time.time() + max(1.0, args.timeout)
    cdir = cluster_dir(name)
    doc = {"ok": True, "cluster": name, "wasRunning": False, "stopped": False, "address": None, "workers": [],
           "retired": [], "workerJobIds": [], "schedulerJobId": None, "jobIds": [], "qdel": None, "removed": [],
           "warnings": []}
    if not os.path.isdir(cdir):
        emit(doc)
        return 0
    # Adaptivity first, so that nothing new is submitted while we stop.
    if remove_file(os.path.join(cdir, ADAPT_REQUEST_FILE)):
        doc["removed"].append(ADAPT_REQUEST_FILE)
    meta_path = os.path.join(cdir, METADATA_FILE)
    meta = read_json(meta_path)
    meta = meta if isinstance(meta, dict) else {}
    sched = read_json(os.path.join(cdir, SCHEDULER_FILE))
    address = sched.get("address") if isinstance(sched, dict) else None
    doc["address"] = address
    local_pid = meta.get("pid") if meta.get("host") == socket.gethostname() else None

    def launcher_lives():
        return bool(local_pid and is_our_process(local_pid))

    def answers(timeout):
        return bool(address and tcp_reachable(address, timeout))

    jobs = set()

    if args.job_cancelled:
        # Asking a scheduler that is stopping already would race its close (and may find it gone): it was running,
        # and its launcher's own stop is what there is to wait for.
        doc["wasRunning"] = True
    elif answers(2.0):
        doc["wasRunning"] = True
        try:
            remaining = max(1.0, deadline - time.time())
            reply = asyncio.run(asyncio.wait_for(_ask_to_stop(cdir, address, remaining * 0.6, args.retire), remaining))
            doc["workers"], doc["retired"] = reply.get("workers", []), reply.get("retired", [])
            jobs.update(reply.get("workerJobIds") or [])
        except Exception as e:
            doc["warnings"].append("asking %s to stop: %s: %s" % (address, type(e).__name__, e))
    if launcher_lives() and meta.get("state") in ("starting", "running", "stopping"):
        doc["wasRunning"] = True
        if not _wait_stopped(meta_path, local_pid, min(deadline, time.time() + 5)):
            os.kill(int(local_pid), signal.SIGTERM)  # unreachable or stuck: the launcher cleans up on SIGTERM
    if doc["wasRunning"]:
        # After its job's qdel: a launcher that was killed, or never started, writes nothing; nothing runs once neither
        # its address answers nor its process lives (cleaned below).
        gone = (lambda: not launcher_lives() and not answers(0.5)) if args.job_cancelled else None
        doc["stopped"] = _wait_stopped(meta_path, local_pid, deadline, gone)
        if not doc["stopped"]:
            doc["warnings"].append("the scheduler did not confirm it stopped within %gs" % args.timeout)

    # Whatever the launcher could not clean (it may have been killed) is cleaned here.
    meta = read_json(meta_path)
    meta = meta if isinstance(meta, dict) else {}
    if os.path.exists(os.path.join(cdir, SCHEDULER_FILE)) and not answers(1.0):
        remove_file(os.path.join(cdir, SCHEDULER_FILE))
        doc["removed"].append(SCHEDULER_FILE)
    if meta and meta.get("state") not in ("stopped", "failed") and not launcher_lives():
        meta.update(state="stopped", stoppedAt=now_iso(), stopReason=meta.get("stopReason") or "shutdown command")
        write_json_atomic(meta_path, meta)
    adapt_state = read_json(os.path.join(cdir, ADAPT_STATE_FILE)) or {}
    for job in adapt_state.get("jobs") or []:
        if isinstance(job, dict) and job.get("state") in ("pending", "running"):
            jobs.add(job.get("id"))
    jobs.update(meta.get("cancelledJobs") or [])
    jobs.discard(None)
    doc["workerJobIds"] = sorted(jobs)
    doc["schedulerJobId"] = meta.get("pbsJobId")
    doc["jobIds"] = sorted(jobs | ({meta["pbsJobId"]} if meta.get("pbsJobId") else set()))
    if args.qdel and doc["jobIds"]:
        try:
            doc["qdel"] = pbs.qdel(doc["jobIds"])
        except pbs.PbsError as e:
            doc["qdel"] = {"error": str(e)}
            doc["ok"] = False
            doc["error"] = str(e)
    if args.purge:
        shutil.rmtree(cdir, ignore_errors=True)
        doc["removed"].append(cdir)
    emit(doc)
    return 0 if doc["ok"] else 1
