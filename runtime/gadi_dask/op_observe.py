"""What a cluster looks like: snapshot (PBS and the scheduler), workers (the scheduler alone, until it changes)
and probe (a starting scheduler's files and job)."""
import json
import os
import time

from . import pbs
from .common import METADATA_FILE, SCHEDULER_FILE, Beside, read_json
from .journal import Journal
from .kernel import KERNEL_DIR
from .lock import ClusterLock, LockBusy, LockUnavailable
from .op_common import SCHEDULER_JOB_LOG, Refusal, _cluster, _pbs_refusal, _reconciled, _record_history, _tail
from .op_kernel import kernel_jobs, settle_kernel_jobs
from .pbsjson import PbsOutputError
from .protocol import JOB_ID
from .reconcile import listing_due, qstat
from .snapshot import workers_key


def _status_probe(name, timeout, seen=None, wait=0.0):
    from .status import probe  # imported on first use, in the thread that probes beside the PBS queries

    return probe(name, timeout, seen=seen, wait=wait)


def _probe_result(probing, name, timeout):
    """The status probe's document and error text; it ran beside the PBS queries (a refresh costs the slower of the
    two, and a session agent pays for Python and its imports once). Without an answer the snapshot keeps its jobs."""
    try:
        return probing.result(timeout + 5), ""
    except TimeoutError:
        return {"ok": False, "code": "timeout", "cluster": name, "metadata": None,
                "error": "no snapshot within %gs" % timeout}, ""
    except Exception as e:
        return None, "%s: %s" % (type(e).__name__, e)


def _refresh(name, cdir, args):
    """Reconciles and records the history; the journal only when no client is changing the cluster right now. The
    kernel's jobs are asked about in the same qstat (their own journal, never the cluster's: not workers)."""
    lock = ClusterLock(cdir, args.get("client", "gadi-dask"), 120)
    try:
        lock.acquire(0)
    except (LockBusy, LockUnavailable, FileNotFoundError):
        pass  # read only: a full or read-only home still has a status
    try:
        journal = Journal(cdir)
        journal.keep_going = True  # what cannot be recorded now is found again by the next reconcile
        kernel_journal, kernel = kernel_jobs(os.path.join(cdir, KERNEL_DIR))
        # A qsub a dead agent left running is not waited for here: its intent stays open for a changing operation.
        view = _reconciled(journal, name, cdir, also=[j.id for j in kernel], write=lock.held, wait_for_qsub=False,
                           list_jobs=listing_due(journal, cdir))
        kernel = settle_kernel_jobs(kernel_journal, kernel, view.pbs, lock.held) if kernel_journal else []
        if lock.held:
            journal.compact()
        warnings = journal.warnings + _record_history(cdir, journal, view, compact=lock.held)
        if kernel_journal:
            warnings += kernel_journal.warnings
    finally:
        lock.release()
    return journal, view, kernel, warnings


def op_snapshot(args, progress, agent):
    name, cdir = _cluster(args)
    if not os.path.isdir(cdir):
        return {"ok": True, "exists": False}
    timeout = float(args.get("probeTimeout", 5))
    probing = Beside(lambda: _status_probe(name, timeout))
    journal, view, kernel, warnings = _refresh(name, cdir, args)
    status, status_error = _probe_result(probing, name, timeout)
    if status:  # the workers' memory, as the scheduler reports it
        warnings += [w for w in _record_history(cdir, journal, view, status) if w not in warnings]
    jobs = [j.to_doc() for j in journal.jobs.values()]
    known = set(j["id"] for j in jobs + kernel)
    return {"ok": True, "exists": True, "jobs": jobs, "kernelJobs": kernel,
            "adaptive": [i for i in view.adaptive],
            "qstat": view.qstat_text(sorted(known | set(view.adaptive))),
            "status": status, "workersSeen": workers_seen(status), "statusRc": None, "statusStderr": status_error,
            "prologue": agent.prologue_log(), "warnings": warnings}


def op_probe(args, progress, agent):
    name, cdir = _cluster(args)
    if not os.path.isdir(cdir):
        return {"ok": True, "exists": False}
    answer = {"ok": True, "exists": True, "meta": read_json(os.path.join(cdir, METADATA_FILE)),
              "schedulerFile": os.path.exists(os.path.join(cdir, SCHEDULER_FILE)),
              "runlog": _tail(os.path.join(cdir, "scheduler.log"))}
    job_id = args.get("jobId")
    if job_id:
        if not JOB_ID.match(str(job_id)):
            raise Refusal("bad-request", "%r is not a PBS job id" % job_id)
        try:
            jobs = qstat([job_id])
        except (PbsOutputError, pbs.PbsError) as e:
            raise _pbs_refusal(e)
        answer["qstat"] = json.dumps({"pbs_version": "agent", "pbs_server": "", "Jobs": jobs})
        answer["log"] = _tail(os.path.join(cdir, SCHEDULER_JOB_LOG))
    return answer


WORKERS_POLL = 0.2  # seconds between two questions to a scheduler that answers at once (never to PBS)
WORKERS_WAIT_MAX = 60
WORKERS_LONG_POLL = 1.0  # seconds one question may wait on the scheduler: a stop is seen within that


def workers_seen(status):
    """The scheduler's workers by name and status (None without an answer from it): what a `workers` wait is
    changed from. Snapshots carry it; the client hands it back as it got it."""
    if not isinstance(status, dict) or not status.get("ok"):
        return None
    return sorted([str(w.get("name")), str(w.get("status"))] for w in status.get("workers") or [])


def op_workers(args, progress, agent):
    """Asks the scheduler alone until its workers differ from `seen`, `waitSeconds` pass or the client stops it, and
    answers its status document. The client holds it against the jobs of its last snapshot: a worker that joins is
    seen as it joins (the scheduler answers a question that waits for a change), while PBS is asked no more often
    than the client takes a snapshot."""
    name, cdir = _cluster(args)
    seen = args.get("seen")
    key = workers_key(seen) if isinstance(seen, list) else None
    timeout = float(args.get("probeTimeout", 5))
    deadline = time.monotonic() + max(0.0, min(float(args.get("waitSeconds", 5)), WORKERS_WAIT_MAX))
    while True:
        asked = time.monotonic()
        wait = min(WORKERS_LONG_POLL, max(0.0, deadline - asked))
        status = _status_probe(name, timeout, key, wait) if os.path.isdir(cdir) else None
        now = workers_seen(status)
        if now != seen or time.monotonic() >= deadline or agent.stop_requested():
            return {"ok": True, "status": status, "workersSeen": now}
        # An answer at once (a scheduler of an older runtime, or one asked through distributed): ask again later.
        time.sleep(max(0.0, min(WORKERS_POLL - (time.monotonic() - asked), deadline - time.monotonic())))
