"""kernel: a Jupyter server with an IPython kernel next to the cluster (start, status, stop).

The kernel's files live in ``<cluster dir>/kernel/`` (0700): its token (0600, made here at each start), its job
script, its output, where it listens (kernel.json, written by ``run.py kernel-server``), and its own journal, like a
run's: the cluster's journal lists only its scheduler and workers, so the kernel's job is never adopted, held or
retired as a worker. A snapshot shows its job beside the cluster's (kernel_jobs, settle_kernel_jobs), asked about
in the snapshot's one qstat. ``down`` stops it with the cluster (stop_kernel) unless asked to keep it. With
``placement: login`` the same script runs detached on the login node, its process group's leader recorded in
``login.pid``.
"""
import os
import secrets
import signal
import subprocess
import time

from . import pbs
from .common import SCHEDULER_FILE, pid_alive, read_json, remove_file
from .journal import JOURNAL_FILE, KEEP_FINISHED_SECONDS, Journal
from .kernel import INFO_FILE, KERNEL_DIR, TOKEN_FILE, missing_packages
from .op_common import Locked, Refusal, _cluster, _pbs_refusal, _write_atomic
from .op_pbs import submit, wait_gone
from .pbsjson import PbsOutputError
from .protocol import JOB_ID, KERNEL_ROLE
from .reconcile import DONE_STATES, qstat

KERNEL_SCRIPT = "kernel.pbs"
LOG_FILE = "kernel.log"
PID_FILE = "login.pid"
PLACEMENTS = ("job", "login")


def op_kernel(args, progress, agent):
    name, cdir = _cluster(args)
    action = args.get("action")
    kdir = os.path.join(cdir, KERNEL_DIR)
    if action == "status":
        return dict(kernel_status(kdir), ok=True)
    if action == "stop":
        job_id = args.get("jobId")
        if job_id is not None and not JOB_ID.match(str(job_id)):
            raise Refusal("bad-request", "%r is not a PBS job id" % job_id)
        answer = stop_kernel(kdir, job_id)
        # Asked to wait (the command line's stop): the answer comes once PBS runs nothing of the kernel, as down's does.
        wait = float(args.get("waitSeconds") or 0)
        if wait > 0:
            answer["exiting"] = wait_gone([i for i in answer["stopped"] if JOB_ID.match(i)], min(wait, 120.0), progress,
                                          agent.stop_requested)
        return dict(answer, ok=True)
    if action != "start":
        raise Refusal("bad-request", "%r is not a kernel action (start, status, stop)" % action)
    placement = args.get("placement")
    if placement not in PLACEMENTS:
        raise Refusal("bad-request", "%r is not a kernel placement (job, login)" % placement)
    if not os.path.exists(os.path.join(cdir, SCHEDULER_FILE)):
        raise Refusal("not-running", "cluster %s has no running scheduler, so the kernel would have no cluster to "
                      "use: start it with up or scale, then start the kernel again" % name)
    # Under the cluster's lock: two notebooks (or a notebook and the command line) starting at once get one kernel.
    with Locked(cdir, args):
        os.makedirs(kdir, mode=0o700, exist_ok=True)
        now = kernel_status(kdir)
        if now["state"] in ("queued", "running", "starting"):
            return dict(now, ok=True, existing=True)
        python = os.path.expanduser(str(args.get("python") or "python3"))
        progress("Checking that %s has jupyter_server and ipykernel" % python)
        missing = missing_packages(python)
        if missing:
            names = " ".join(p for _, p in missing)
            raise Refusal("kernel-env", "%s cannot import %s, which a kernel next to the cluster needs: install %s into that "
                          "environment (pip install %s, or load the module that provides %s) and start the kernel again"
                          % (python, " and ".join(m for m, _ in missing), "it" if len(missing) == 1 else "them", names,
                             "it" if len(missing) == 1 else "them"), missing=[m for m, _ in missing])
        for f in (INFO_FILE, TOKEN_FILE, PID_FILE):
            remove_file(os.path.join(kdir, f))
        fd = os.open(os.path.join(kdir, TOKEN_FILE), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(secrets.token_hex(32) + "\n")
        _write_atomic(os.path.join(kdir, KERNEL_SCRIPT), str(args.get("script", "")), 0o600)
        if placement == "job":
            progress("Submitting the kernel's job of cluster %s" % name)
            job_id, error = submit(Journal(kdir), kdir, KERNEL_ROLE, KERNEL_SCRIPT, cluster=name)
            if error:
                raise Refusal("qsub", "the kernel's job was not submitted", qsub=error)
            return {"ok": True, "jobId": job_id, "state": "queued", "kernelDir": kdir}
        progress("Starting the kernel of cluster %s on the login node" % name)
        with open(os.path.join(kdir, LOG_FILE), "ab") as log:
            child = subprocess.Popen(["bash", os.path.join(kdir, KERNEL_SCRIPT)], cwd=kdir, stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=log, start_new_session=True)
        _write_atomic(os.path.join(kdir, PID_FILE), "%d\n" % child.pid, 0o600)
        return {"ok": True, "pid": child.pid, "state": "starting", "kernelDir": kdir}


def _login_pid(kdir):
    try:
        with open(os.path.join(kdir, PID_FILE), encoding="utf-8") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _live_job(kdir):
    if not os.path.exists(os.path.join(kdir, JOURNAL_FILE)):
        return None, None
    journal = Journal(kdir)
    ids = [j.id for j in journal.live(KERNEL_ROLE)]
    if not ids:
        return None, None
    try:
        jobs = qstat(ids)
    except (PbsOutputError, pbs.PbsError) as e:
        raise _pbs_refusal(e)
    for i in reversed(ids):
        attrs = jobs.get(i)
        if attrs and attrs.get("job_state") not in DONE_STATES:
            return i, attrs
        journal.record("finished", id=i)
    return None, None


def kernel_status(kdir):
    """{state: none|queued|starting|running|ended, jobId?, pid?, comment?, host?, port?, node?, startedAt?}"""
    info = read_json(os.path.join(kdir, INFO_FILE))
    info = info if isinstance(info, dict) else None
    job_id, attrs = _live_job(kdir)
    if job_id:
        doc = {"jobId": job_id, "jobState": attrs.get("job_state"), "comment": attrs.get("comment")}
        if attrs.get("job_state") != "R":
            return dict(doc, state="queued")
        return dict(doc, state="running", **_where(info)) if info else dict(doc, state="starting")
    pid = _login_pid(kdir)
    if pid and pid_alive(pid):
        return dict({"pid": pid, "state": "running" if info else "starting"}, **_where(info))
    return {"state": "none"}


def _where(info):
    return dict((k, info[k]) for k in ("host", "port", "node", "startedAt") if info and k in info)


def stop_kernel(kdir, only=None):
    """Cancels the kernel's job (journaled) or ends its login-node process group. {stopped: [...], errors: [...]}.
    ``only``: that job, and only while it is the kernel's live job (a row of an older snapshot never stops a kernel
    started since); the login-node process is left alone then."""
    answer = {"stopped": [], "errors": []}
    if not os.path.isdir(kdir):
        return answer
    job_id, _ = _live_job(kdir)
    if only is not None and job_id != only:
        return answer
    if job_id:
        try:
            said = pbs.qdel([job_id]).get(job_id, "error: no answer")
        except pbs.PbsError as e:
            said = "error: %s" % e
        if said in ("deleted", "gone"):
            Journal(kdir).record("cancelled", id=job_id)
            answer["stopped"].append(job_id)
        else:
            answer["errors"].append("job %s: %s" % (job_id, said))
    pid = _login_pid(kdir) if only is None else None
    if pid and pid_alive(pid):
        try:
            os.killpg(pid, signal.SIGTERM)
            answer["stopped"].append("pid %d" % pid)
        except OSError as e:
            answer["errors"].append("pid %d: %s" % (pid, e))
    for f in (INFO_FILE, TOKEN_FILE, PID_FILE):
        remove_file(os.path.join(kdir, f))
    return answer


def kernel_jobs(kdir, now=None):
    """The kernel's journal and the jobs of it a snapshot shows: live, or finished within the journal's day. Read
    without asking PBS: the caller puts their ids into the qstat it makes anyway. (None, []) without a journal."""
    if not os.path.exists(os.path.join(kdir, JOURNAL_FILE)):
        return None, []
    journal = Journal(kdir)
    journal.keep_going = True  # a full home: what is not recorded now, the next snapshot finds again
    now = time.time() if now is None else now
    return journal, [j for j in journal.jobs.values() if j.role == KERNEL_ROLE
                     and not (j.finished and now - j.finished > KEEP_FINISHED_SECONDS)]


def settle_kernel_jobs(journal, jobs, pbs_jobs, write):
    """Marks finished the kernel jobs that PBS's answer (``pbs_jobs``, already asked) shows ended or no longer
    knows; ``write``: into the journal, else in memory only. Returns the jobs' journal documents."""
    record = journal.record if write else journal.apply_only
    for j in jobs:
        attrs = pbs_jobs.get(j.id)
        if not j.finished and (attrs is None or attrs.get("job_state") in DONE_STATES):
            record("finished", id=j.id, exit=attrs.get("Exit_status") if attrs else None)
    return [j.to_doc() for j in jobs]


def running_kernel(kdir, jobs, pbs_jobs):
    """What of the kernel still runs, by PBS's answer already asked (``pbs_jobs``): its live job ids and a
    login-node process (``pid N``)."""
    out = [j.id for j in jobs if not j.finished and pbs_jobs.get(j.id, {}).get("job_state", "F") not in DONE_STATES]
    pid = _login_pid(kdir)
    if pid and pid_alive(pid):
        out.append("pid %d" % pid)
    return out
