"""down (the whole cluster) and cancel (some of its jobs, running workers retired first)."""
import os
import shutil

from . import session
from .common import (ADAPT_CANCELLED_FILE, ADAPT_REQUEST_FILE, ADAPT_STATE_FILE, METADATA_FILE, read_json, remove_file,
                     write_json_atomic)
from .journal import Journal
from .kernel import KERNEL_DIR
from .op_common import (LAUNCH_FILE, RUN_PY, SCHEDULER_SCRIPT, WORKER_SCRIPT, Locked, Refusal, _cluster, _document,
                        _reconciled, _record_history, runtime_command)
from .op_kernel import kernel_jobs, running_kernel, stop_kernel
from .op_pbs import cancel, retire, wait_gone
from .protocol import JOB_ID, KEEP_KERNEL


def op_down(args, progress, agent):
    name, cdir = _cluster(args)
    if not os.path.isdir(cdir):
        return {"ok": True, "existed": False}
    answer = {"ok": True, "existed": True, "cancelled": [], "exiting": [], "purged": False, "warnings": []}
    with Locked(cdir, args, unlocked_ok=True) as locked:
        if locked.unavailable:
            answer["warnings"].append("%s: down goes on without it and records nothing." % locked.unavailable)
        journal = Journal(cdir)
        # A full or read-only home must not keep the jobs running: what is not recorded, PBS says again next time
        # (the jobs it no longer runs are marked finished then).
        journal.keep_going = True
        kdir = os.path.join(cdir, KERNEL_DIR)
        _, kernel_seen = kernel_jobs(kdir)
        # PBS first: when it does not answer in its own format, nothing is stopped, cancelled or forgotten. The
        # kernel's jobs in the same qstat: whether one is kept running is known without asking PBS again.
        view = _reconciled(journal, name, cdir, also=[j.id for j in kernel_seen if not j.finished])
        _remove_quietly(os.path.join(cdir, ADAPT_REQUEST_FILE))
        # Every job in one qdel, as by hand: PBS takes seconds to end a job, and those seconds run side by side.
        # Handing the workers' data over would keep nothing when the whole cluster goes. The scheduler's launcher
        # stops it on PBS's SIGTERM; it replaces no worker: its submissions wait for the lock held here, then find
        # the request gone.
        scheduler_job = view.scheduler_job()
        jobs = _live(view, view.worker_ids() + ([scheduler_job] if scheduler_job else []))
        if jobs:
            progress("Cancelling %d job%s" % (len(jobs), "" if len(jobs) == 1 else "s"))
        answer["cancelled"] = cancel(journal, view, jobs)
        progress("Stopping the scheduler of %s" % name)
        timeout = float(args.get("shutdownTimeout", 30))
        shutdown = ["shutdown", "--name", name, "--timeout", str(timeout), "--no-retire"]
        deleted = [c["id"] for c in answer["cancelled"] if c["outcome"] == "deleted"]
        if scheduler_job in deleted and not view.queued(scheduler_job):
            shutdown.append("--job-cancelled")
        meta = read_json(os.path.join(cdir, METADATA_FILE))
        in_session = meta.get("session") if isinstance(meta, dict) and meta.get("placement") == "persistent-session" else None
        doc = None
        if isinstance(in_session, dict):
            answer["session"] = in_session  # never stopped here: the answer says it still runs
            doc, out, err = _shutdown_in_session(in_session, meta, shutdown, timeout)
        if doc is None:
            doc, rc, out, err = runtime_command(shutdown, timeout + 60)
        answer["shutdown"] = doc
        if doc is None:
            answer["shutdownOutput"] = (out + err)[-1000:]
        ids = _live(view, [j.id for j in journal.live()] + view.adaptive)  # the scheduler's job, and any left
        if ids:
            progress("Cancelling %d job%s" % (len(ids), "" if len(ids) == 1 else "s"))
        answer["cancelled"] += cancel(journal, view, ids)
        # The kernel next to the cluster goes with it (without the scheduler it has nothing to compute on), unless
        # the user keeps it: its notebook's state outlives the cluster then.
        if args.get(KEEP_KERNEL):
            kernel = {"stopped": [], "errors": [], "kept": running_kernel(kdir, kernel_seen, view.pbs)}
        else:
            try:
                kernel = dict(stop_kernel(kdir), kept=[])
            except Refusal as r:
                kernel = {"stopped": [], "errors": [r.doc.get("error") or "PBS did not answer"], "kept": []}
        answer["kernel"] = kernel
        answer["warnings"] += ["The kernel was not stopped: %s" % e for e in kernel["errors"]]
        gone = [c["id"] for c in answer["cancelled"] if c["outcome"] in ("deleted", "gone")]
        # The kernel's job is waited for too: down returns when PBS runs nothing of the cluster (a login-node
        # kernel is a `pid N`, ended already).
        gone += [i for i in kernel["stopped"] if JOB_ID.match(i)]
        answer["exiting"] = wait_gone(gone, float(args.get("waitSeconds", 60)), progress, agent.stop_requested)
        for f in (ADAPT_STATE_FILE, ADAPT_CANCELLED_FILE, WORKER_SCRIPT, SCHEDULER_SCRIPT, LAUNCH_FILE):
            _remove_quietly(os.path.join(cdir, f))
        if answer["exiting"] or [c for c in answer["cancelled"] if c["outcome"] == "error"]:
            purge = False  # the journal still has work to do: keep it
        else:
            purge = bool(args.get("purge"))
        if purge and kernel["kept"]:
            purge = False  # the kept kernel's token, journal and output live in it
            answer["warnings"].append("The cluster's directory was not removed: the kernel kept running uses it.")
        answer["warnings"] += _record_history(cdir, journal, _reconciled(journal, name, cdir), compact=True)
        journal.compact()
        answer["warnings"] += journal.warnings
    if purge:
        shutil.rmtree(cdir, ignore_errors=True)
        answer["purged"] = True
    return answer


def _shutdown_in_session(where, meta, shutdown, timeout):
    """run.py shutdown inside the persistent session, where the scheduler's process is local: a scheduler that
    does not answer its shutdown request is then stopped by its pid. (None, …) when the session cannot be reached:
    the login node's shutdown goes on from there. The session's python is the one the scheduler ran under."""
    host, python = where.get("host"), meta.get("python")
    if not (isinstance(host, str) and isinstance(python, str)):
        return None, "", ""
    rc, out, err = session.run_in(host, [python, RUN_PY] + shutdown, timeout + 60)
    return (_document(out) if rc is not None else None), out, err


def _live(view, ids):
    """Of ids, those PBS still runs and nobody cancelled yet, once each and in order."""
    ids = [i for i in ids if view.active(i)]
    return sorted(set(ids), key=ids.index)


def _remove_quietly(path):
    try:
        remove_file(path)
    except OSError:
        pass  # a read-only home: the request file stays, the jobs still go


def op_cancel(args, progress, agent):
    name, cdir = _cluster(args)
    ids = [str(i) for i in args.get("ids") or []]
    bad = [i for i in ids if not JOB_ID.match(i)]
    if bad:
        raise Refusal("bad-request", "not PBS job ids: %s" % ", ".join(bad))
    if not os.path.isdir(cdir):
        return {"ok": True, "noCluster": True, "cancelled": []}
    answer = {"ok": True, "cancelled": [], "warnings": []}
    with Locked(cdir, args):
        journal = Journal(cdir)
        view = _reconciled(journal, name, cdir)
        sid_jobs = set(j.id for j in journal.jobs.values() if j.role == "scheduler")
        ours = set(journal.jobs) | set(view.adaptive)
        queued, running = [], []
        for i in ids:
            if i not in ours:
                answer["cancelled"].append({"id": i, "outcome": "error", "message": "not a job of cluster %s" % name})
            elif not view.active(i):
                answer["cancelled"].append({"id": i, "outcome": "gone"})
            elif i in sid_jobs or view.queued(i):
                queued.append(i)  # the scheduler has no workers to retire; a queued job has none yet
            else:
                running.append(i)
        answer["cancelled"] += cancel(journal, view, queued)
        if running:
            results, warning = retire(journal, view, name, running, len(running))
            if results is None:
                answer["warnings"].append(warning)
                results = cancel(journal, view, running)
            answer["cancelled"] += results
        done = [c["id"] for c in answer["cancelled"] if c["outcome"] == "deleted"]
        if done and (os.path.exists(os.path.join(cdir, ADAPT_REQUEST_FILE)) or view.adaptive):
            # Adaptivity stops counting them, and does not take their end for a failed start.
            with open(os.path.join(cdir, ADAPT_CANCELLED_FILE), "a", encoding="utf-8") as f:
                f.write("".join(i + "\n" for i in done))
            held = _lower_held_size(cdir, len([i for i in done if i not in sid_jobs]))
            if held is not None:
                answer["holding"] = held
    order = dict((i, n) for n, i in enumerate(ids))
    answer["cancelled"].sort(key=lambda c: order.get(c["id"], len(ids)))
    return answer


def _lower_held_size(cdir, cancelled_workers):
    """A worker job the user cancels leaves a held cluster for good: the size held goes down with it (a job that ends
    any other way is replaced). Returns the new size, or None when the cluster holds no size."""
    path = os.path.join(cdir, ADAPT_REQUEST_FILE)
    request = read_json(path)
    if not cancelled_workers or not isinstance(request, dict) or request.get("hold") is not True:
        return None
    size = max(0, int(request.get("min") or 0) - cancelled_workers)
    write_json_atomic(path, dict(request, min=size, max=size))
    return size
