"""The agent's operations. Each changes a cluster only under its lock, after reconciling with PBS, and records
every qsub and qdel in the journal before it answers. Answers are plain dicts (the agent frames them); their shape
is the protocol's (src/core/cluster/protocol.ts)."""
import json
import os
import shutil
import sys
import time

from . import inflight, liveness, pbs, tls
from . import __version__
from .common import (ADAPT_CANCELLED_FILE, ADAPT_REQUEST_FILE, ADAPT_STATE_FILE, BEGIN, END, METADATA_FILE,
                     OUTPUT_LIMIT, SCHEDULER_FILE, Beside, CommandTimeout, OutputTooLarge, cluster_dir, read_json,
                     remove_file, root_dir, run_bounded, write_json_atomic)
from .history import History
from .journal import Journal, JournalWriteError
from .lock import ClusterLock, LockBusy, LockUnavailable
from .pbsjson import PbsOutputError
from .protocol import CLUSTER_NAME, JOB_ID
from .reconcile import qselect, qstat, reconcile, unique_name, user

RUNTIME_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN_PY = os.path.join(RUNTIME_DIR, "run.py")
WORKER_SCRIPT = "worker.pbs"
SCHEDULER_SCRIPT = "scheduler.pbs"
LAUNCH_FILE = "launch.json"
SCHEDULER_JOB_LOG = "scheduler-job.log"


class Refusal(Exception):
    """An answer with ok false: the operation stopped before changing anything it has not reported."""

    def __init__(self, code, error, **extra):
        Exception.__init__(self, error)
        self.doc = dict(extra, ok=False, code=code, error=error)


def _cluster(args):
    name = str(args.get("cluster", ""))
    if not CLUSTER_NAME.match(name):
        raise Refusal("bad-request", "%r is not a cluster name" % name)
    return name, cluster_dir(name)


def _write_atomic(path, text, mode=0o644):
    tmp = "%s.tmp-%d" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def runtime_command(args, timeout):
    """Runs one of this runtime's commands (run.py …) and returns (its document or None, rc, stdout, stderr)."""
    try:
        rc, out, err = run_bounded([sys.executable, RUN_PY] + list(args), timeout, cwd=os.path.expanduser("~"))
    except CommandTimeout as e:
        return None, None, e.stdout, "run.py %s did not finish within %ss" % (args[0], timeout)
    except OutputTooLarge:
        return None, None, "", "run.py %s printed more than %d MB and was stopped" % (args[0], OUTPUT_LIMIT // 2 ** 20)
    return _document(out), rc, out, err


def _document(text):
    begin = text.rfind(BEGIN + "\n")
    if begin < 0:
        return None
    end = text.find("\n" + END, begin)
    try:
        doc = json.loads(text[begin + len(BEGIN) + 1:end])
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _tail(path, lines=40):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


class Locked(object):
    """The cluster's lock around an operation; a busy lock is a refusal naming its owner."""

    def __init__(self, cdir, args, unlocked_ok=False):
        self.lock = ClusterLock(cdir, args.get("client", "gadi-dask"), float(args.get("lockTtl", 600)))
        self.wait = float(args.get("lockWait", 60))
        self.unlocked_ok = unlocked_ok  # down: a home nobody can write is one nobody else can change either
        self.unavailable = None

    def __enter__(self):
        try:
            self.lock.acquire(self.wait)
        except LockBusy as e:
            raise Refusal("locked", "the cluster is being changed by another client", owner=e.owner)
        except FileNotFoundError:
            raise Refusal("locked", "the cluster directory disappeared while waiting for its lock", owner="")
        except LockUnavailable as e:
            if not self.unlocked_ok:
                raise Refusal("home", "%s, so nothing was changed. Free space in the home directory (or ask for "
                              "more quota), or make it writable, then try again." % e)
            self.unavailable = str(e)
        return self

    def __exit__(self, *exc):
        self.lock.release()


def _roles(journal, view):
    roles = dict((i, "worker") for i in view.adaptive)
    roles.update((j.id, j.role) for j in journal.jobs.values())
    return roles


def _record_history(cdir, journal, view, status=None, compact=False):
    """What PBS (and the scheduler) said about the cluster's jobs into history.jsonl; never fails the operation.
    Compacts only when the caller holds the cluster's lock."""
    try:
        history = History(cdir)
        history.observe(_roles(journal, view), view.pbs, status)
        if compact:
            history.compact()
        return history.warnings
    except OSError as e:
        return ["the history was not recorded: %s" % e]


def _pbs_refusal(e):
    """PBS did not answer in its format, or not at all (`unreachable`: its server did not answer)."""
    if isinstance(e, pbs.PbsUnreachable):
        return Refusal("pbs", str(e), unreachable=True)
    return Refusal("pbs", str(e))


def _reconciled(journal, name, cdir, also=(), write=True, wait_for_qsub=True):
    try:
        return reconcile(journal, name, cdir, also, write, wait_for_qsub)
    except (PbsOutputError, pbs.PbsError) as e:
        raise _pbs_refusal(e)


# ---- PBS actions, journaled -------------------------------------------------------------------------------------

def submit(journal, cdir, role, script, extra=(), cluster=None):
    """One qsub under a unique name: the intent first, the id after, both durable before the caller goes on.

    Returns (job id or None, error dict or None). The id is taken from qsub's answer only when it is nothing but one
    id (pbs.answer_id); any other exit 0 is looked up by the unique name, never guessed nor retried blindly. qsub
    runs in its own session with a deadline (inflight.py): an intent it leaves unsettled stays open until no qsub of
    it can land any more.
    """
    name = unique_name(cluster, role)
    journal.intent(name, role, inflight.deadline())
    timed_out = False
    try:
        rc, out, err, timed_out = inflight.run_qsub(["qsub", "-N", name] + list(extra) + [script], cdir)
    except pbs.PbsError as e:
        rc, out, err = None, "", str(e)
    if timed_out:
        rc, err = None, "qsub did not finish within %ss: %s" % (inflight.QSUB_TIMEOUT, err.strip()[-300:])
    found = pbs.answer_id(out) if rc == 0 else None
    if found:
        journal.record("submitted", id=found, role=role, name=name)
        return found, None
    if rc == 0 or timed_out:
        # It may have been accepted: only PBS can say. (A timeout too: the server may have queued it.)
        try:
            ids = qselect(["-x", "-u", user(), "-N", name])
        except PbsOutputError:
            ids = []
        if ids:
            journal.record("submitted", id=ids[0], role=role, name=name)
            return ids[0], None
        if timed_out:
            # The intent stays open (a pending job of its role) until the server's grace has passed.
            journal.intent(name, role, time.time() + inflight.LAND_GRACE, late=True)
            return None, {"rc": None, "stdout": out, "stderr": err}
        journal.record("refused", name=name, reason="qsub exited 0 without a job id and PBS has no such job")
        return None, {"rc": 0, "stdout": out, "stderr": err or "qsub printed no job id"}
    journal.record("refused", name=name, reason="qsub exited %s" % rc if rc is not None else err)
    return None, {"rc": rc, "stdout": out, "stderr": err}


def _refuse_foreign(view, ids):
    """The ids PBS lists as this cluster's, and a refusal for each other: nothing the cluster did not submit is
    ever cancelled (whatever the journal says)."""
    ok, refused = [], []
    for i in ids:
        why = view.foreign(i)
        if why is None:
            ok.append(i)
            continue
        message = "job %s was not cancelled: %s, so it is not a job of cluster %s" % (i, why, view.cluster)
        sys.stderr.write("gadi-dask agent: refusing to qdel %s: %s\n" % (i, why))
        refused.append({"id": i, "outcome": "error", "message": message})
    return ok, refused


def cancel(journal, view, ids):
    """qdel of the cluster's own jobs; records each job it accepted or found already gone (or exiting).
    Returns [{id, outcome, message?}]."""
    ids, refused = _refuse_foreign(view, ids)
    if not ids:
        return refused
    try:
        said = pbs.qdel(ids)
    except pbs.PbsError as e:
        return [{"id": i, "outcome": "error", "message": str(e)} for i in ids]
    results = []
    for i in ids:
        s = said.get(i, "error: no answer")
        if s in ("deleted", "gone"):
            journal.record("cancelled", id=i)
            results.append({"id": i, "outcome": s})
        else:
            results.append({"id": i, "outcome": "error", "message": s[len("error: "):] if s.startswith("error: ") else s})
    return refused + results


def retire(journal, view, name, running, count):
    """Running worker jobs: the scheduler retires the least busy ones' workers (their data moves), then qdel."""
    running, refused = _refuse_foreign(view, running)
    if not running:
        return refused, None
    doc, rc, out, err = runtime_command(["retire", "--name", name, "--count", str(count), "--qdel"] + running, 150)
    if not doc or "chosen" not in doc:
        return None, "Retiring workers failed, so running jobs were cancelled without handing their data over: %s" % (
            (err or out).strip()[-300:])
    qdel = doc.get("qdel") or {}
    results = []
    for i in doc.get("chosen", []):
        s = qdel.get(i) if isinstance(qdel, dict) else None
        outcome = s if s in ("deleted", "gone") else "error"
        if outcome != "error":
            journal.record("cancelled", id=i)
        workers = [w for w in (doc.get("workers") or {}).get(i, []) if w in (doc.get("retired") or [])]
        entry = {"id": i, "outcome": outcome, "retiredWorkers": workers}
        if outcome == "error":
            entry["message"] = s or doc.get("error") or "not cancelled"
        results.append(entry)
    return refused + results, None


def wait_gone(ids, seconds, progress, stop=lambda: False):
    """Waits (bounded, or until the client stops it) until PBS no longer runs these jobs; returns those still exiting."""
    deadline = time.time() + max(0.0, seconds)
    left = list(ids)
    said = None
    while left:
        try:
            jobs = qstat(left)
        except (PbsOutputError, pbs.PbsError):
            return left
        left = [i for i in left if i in jobs and jobs[i].get("job_state") not in ("F", "X", "M")]
        if not left or time.time() >= deadline or stop():
            return left
        message = "Waiting for %d job%s to leave PBS: %s" % (len(left), "" if len(left) == 1 else "s", ", ".join(left))
        if message != said:
            progress(message)
            said = message
        time.sleep(1.0)
    return left


# ---- operations -------------------------------------------------------------------------------------------------

def op_hello(args, progress, agent):
    return {"ok": True, "runtimeVersion": __version__, "python": sys.executable,
            "pythonVersion": sys.version.split()[0]}


def _env_check(agent):
    doc, rc, out, err = runtime_command(["env"], 120)
    if doc and doc.get("ok"):
        return None
    return Refusal("env", (doc or {}).get("error") or "the Python check gave no answer", env=doc, rc=rc,
                   output=(out + err)[-2000:], prologue=agent.prologue_log())


def _ensure_scheduler(args, journal, view, name, cdir, agent):
    ensure = args["ensureScheduler"]
    sid = view.scheduler_job()
    if sid:
        return {"kind": "job-exists", "jobId": sid, "state": view.state(sid)}
    pending = journal.pending("scheduler")
    if pending:
        raise Refusal("qsub-pending", "a qsub of the scheduler's job %s, started by an agent that stopped, may still "
                      "land in PBS, so no second one was submitted; try again in a minute" % pending[0])
    if os.path.exists(os.path.join(cdir, SCHEDULER_FILE)):
        doc, _, _, _ = runtime_command(["status", "--name", name, "--timeout", "5"], 30)
        if doc and doc.get("ok"):
            return {"kind": "answers", "status": doc}
    refusal = _env_check(agent)
    if refusal:
        raise refusal
    if ensure.get("tls"):
        tls.renew(cdir, name)  # before any job that names the keys can start
    if ensure.get("placement") == "job":
        _write_atomic(os.path.join(cdir, SCHEDULER_SCRIPT), ensure["script"])
        job_id, error = submit(journal, cdir, "scheduler", SCHEDULER_SCRIPT, cluster=name)
        if error:
            raise Refusal("qsub", "the scheduler's job was not submitted", qsub=error)
        return {"kind": "submitted", "jobId": job_id}
    # Login node: the launcher's options from a private file, not argv (other users see argv).
    _write_atomic(os.path.join(cdir, LAUNCH_FILE), json.dumps(ensure.get("launch") or {}), 0o600)
    doc, rc, out, err = runtime_command(
        ["scheduler", "--name", name, "--config", os.path.join(cdir, LAUNCH_FILE), "--detach", "--wait", "60"], 120)
    return {"kind": "started-login", "start": doc, "output": (out + err)[-2000:]}


def _adapt_off(journal, view, cdir):
    had = os.path.exists(os.path.join(cdir, ADAPT_REQUEST_FILE))
    remove_file(os.path.join(cdir, ADAPT_REQUEST_FILE))
    for job_id in view.adaptive:
        if job_id not in journal.jobs and view.active(job_id):
            journal.record("adopted", id=job_id, role="worker", name=None)
    return had


def _scale(args, journal, view, name, cdir, answer, progress, agent):
    target = int(args["scaleTo"])
    workers = [i for i in view.worker_ids() if view.active(i)]
    queued = [i for i in workers if view.queued(i)]
    running = [i for i in workers if not view.queued(i)]
    # A qsub that may still land counts as a queued job: a replacement would make one too many.
    pending = journal.pending("worker")
    have = len(workers) + len(pending)
    answer["scale"] = {"before": have, "queued": len(queued), "running": len(running), "target": target}
    if pending:
        answer["warnings"].append("%d worker job(s) of a qsub an earlier agent left unfinished may still land in PBS "
                                  "and are counted: %s" % (len(pending), ", ".join(pending)))
    need = target - have
    if need > 0:
        scheduler = answer.get("scheduler") or {}
        sid = scheduler.get("jobId") if scheduler.get("kind") == "submitted" else view.scheduler_job()
        fresh = sid is not None and sid == scheduler.get("jobId") and scheduler.get("kind") == "submitted"
        # Workers wait for the scheduler's job to start (-W on the command line; the script stays PBSCluster's).
        extra = ["-W", "depend=after:%s" % sid] if sid and (fresh or view.queued(sid)) else []
        for n in range(need):
            if agent.stop_requested():
                answer["stopped"] = True  # between two submissions: what was submitted is journaled and answered
                break
            if n and n % 5 == 0:
                progress("Submitted %d of %d worker jobs" % (n, need))
            job_id, error = submit(journal, cdir, "worker", WORKER_SCRIPT, extra, cluster=name)
            if error:
                answer["submitErrors"].append(error)
                break  # the next qsub would be refused for the same reason
            answer["submitted"].append(job_id)
    elif need < 0:
        # Queued jobs go first, newest first: they cost nothing and hold no data.
        drop = list(reversed(queued))[:-need]
        answer["cancelled"] += cancel(journal, view, drop)
        left = -need - len(drop)
        if left > 0:
            results, warning = retire(journal, view, name, running, left)
            if results is None:
                answer["warnings"].append(warning)
                results = cancel(journal, view, list(reversed(running))[:left])
            answer["cancelled"] += results
        if target == 0:
            # Nothing of the cluster should run any more: say so only once PBS agrees (bounded).
            gone = [c["id"] for c in answer["cancelled"] if c["outcome"] in ("deleted", "gone")]
            answer["exiting"] = wait_gone(gone, float(args.get("waitSeconds", 60)), progress, agent.stop_requested)


def _replace_dead_scheduler(journal, view, cdir, answer, progress):
    """A scheduler that is gone (killed, or its job deleted while PBS still shows it R) takes its running workers
    with it: they would die at their death-timeout. Its job and theirs are cancelled, so neither counts, and the
    stale scheduler file goes, so the new scheduler's workers never try the dead address."""
    dead = liveness.dead_scheduler(cdir, view)
    if not dead:
        return
    sid, why = dead
    doomed = [i for i in view.worker_ids() if view.active(i) and not view.queued(i)]
    ids = ([sid] if sid and view.active(sid) else []) + doomed
    progress("The scheduler of the cluster is gone: %s" % why)
    answer["warnings"].append("The scheduler of the cluster is gone (%s): %s; a new one is started." % (
        why, "its job and the worker jobs bound to it are cancelled (%s)" % ", ".join(ids) if ids else
        "no job of it is left"))
    answer["cancelled"] += cancel(journal, view, ids)
    view.gone.update(ids)
    remove_file(os.path.join(cdir, SCHEDULER_FILE))


def _submitted_so_far(answer, journal_error):
    """What an apply that stopped on a journal write had already done, for the message that stops it."""
    done = []
    scheduler = answer.get("scheduler") or {}
    if scheduler.get("kind") == "submitted":
        done.append("the scheduler's job %s" % scheduler["jobId"])
    if answer["submitted"]:
        done.append("worker jobs %s" % ", ".join(answer["submitted"]))
    said = "Submitted before it stopped: %s." % "; ".join(done) if done else "Nothing was submitted."
    rec = journal_error.rec if journal_error else {}
    if rec.get("op") == "submitted":
        said += (" Job %s was submitted but could not be recorded; the next command finds it by its name %s."
                 % (rec.get("id"), rec.get("name")))
    return said


def op_apply(args, progress, agent):
    name, cdir = _cluster(args)
    try:
        os.makedirs(cdir, exist_ok=True)
    except OSError as e:
        raise Refusal("no-dir", "cannot create %s: %s" % (cdir, e))
    answer = {"ok": True, "before": [], "submitted": [], "submitErrors": [], "cancelled": [], "warnings": []}
    with Locked(cdir, args):
        try:
            _apply(args, progress, agent, name, cdir, answer)
        except (JournalWriteError, OSError) as e:
            what = e if isinstance(e, JournalWriteError) else "%s: %s" % (getattr(e, "filename", None) or cdir, e.strerror or e)
            raise Refusal("home", "%s, so the operation stopped. %s Free space in the home directory (or ask for more "
                          "quota), then run status, or down." % (
                              what, _submitted_so_far(answer, e if isinstance(e, JournalWriteError) else None)),
                          submitted=answer["submitted"], cancelled=answer["cancelled"])
    return answer


def _apply(args, progress, agent, name, cdir, answer):
    _write_atomic(os.path.join(cdir, WORKER_SCRIPT), args["workerScript"])
    journal = Journal(cdir)
    answer["warnings"] += journal.warnings
    view = _reconciled(journal, name, cdir)
    sid = view.scheduler_job()
    ids = ([sid] if sid else []) + [i for i in view.worker_ids() if view.active(i)]
    answer["before"] = [{"id": i, "state": view.state(i), "role": "scheduler" if i == sid else "worker"} for i in ids]
    adapt = args.get("adapt")
    if args.get("scaleTo") is not None or adapt == "off":
        answer["adaptWasOn"] = _adapt_off(journal, view, cdir)
    if agent.stop_requested():
        answer["stopped"] = True
    elif args.get("ensureScheduler"):
        _replace_dead_scheduler(journal, view, cdir, answer, progress)
        answer["scheduler"] = _ensure_scheduler(args, journal, view, name, cdir, agent)
    if args.get("scaleTo") is not None and not answer.get("stopped"):
        _scale(args, journal, view, name, cdir, answer, progress, agent)
    if isinstance(adapt, dict):
        live = [i for i in view.worker_ids() if view.active(i)] + answer["submitted"]
        write_json_atomic(os.path.join(cdir, ADAPT_REQUEST_FILE), dict(adapt, jobs=live))
        answer["adaptAdopted"] = len(live)
    journal.compact()
    answer["warnings"] += [w for w in journal.warnings if w not in answer["warnings"]]


def _status_probe(name, timeout):
    from .status import probe  # imported on first use, in the thread that probes beside the PBS queries

    return probe(name, timeout)


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
    """Reconciles and records the history; the journal only when no client is changing the cluster right now."""
    lock = ClusterLock(cdir, args.get("client", "gadi-dask"), 120)
    try:
        lock.acquire(0)
    except (LockBusy, LockUnavailable, FileNotFoundError):
        pass  # read only: a full or read-only home still has a status
    try:
        journal = Journal(cdir)
        journal.keep_going = True  # what cannot be recorded now is found again by the next reconcile
        # A qsub a dead agent left running is not waited for here: its intent stays open for a changing operation.
        view = _reconciled(journal, name, cdir, write=lock.held, wait_for_qsub=False)
        if lock.held:
            journal.compact()
        warnings = journal.warnings + _record_history(cdir, journal, view, compact=lock.held)
    finally:
        lock.release()
    return journal, view, warnings


def op_snapshot(args, progress, agent):
    name, cdir = _cluster(args)
    if not os.path.isdir(cdir):
        return {"ok": True, "exists": False}
    timeout = float(args.get("probeTimeout", 5))
    probing = Beside(lambda: _status_probe(name, timeout))
    journal, view, warnings = _refresh(name, cdir, args)
    status, status_error = _probe_result(probing, name, timeout)
    if status:  # the workers' memory, as the scheduler reports it
        warnings += [w for w in _record_history(cdir, journal, view, status) if w not in warnings]
    jobs = [j.to_doc() for j in journal.jobs.values()]
    known = set(j["id"] for j in jobs)
    return {"ok": True, "exists": True, "jobs": jobs,
            "adaptive": [i for i in view.adaptive],
            "qstat": view.qstat_text(sorted(known | set(view.adaptive))),
            "status": status, "workersSeen": workers_seen(status), "statusRc": None, "statusStderr": status_error,
            "prologue": agent.prologue_log(), "warnings": warnings}


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
        # PBS first: when it does not answer in its own format, nothing is stopped, cancelled or forgotten.
        view = _reconciled(journal, name, cdir)
        _remove_quietly(os.path.join(cdir, ADAPT_REQUEST_FILE))
        progress("Stopping the scheduler of %s" % name)
        doc, rc, out, err = runtime_command(["shutdown", "--name", name, "--timeout",
                                             str(args.get("shutdownTimeout", 30))], float(args.get("shutdownTimeout", 30)) + 60)
        answer["shutdown"] = doc
        if doc is None:
            answer["shutdownOutput"] = (out + err)[-1000:]
        ids = [i for i in ([j.id for j in journal.live()] + view.adaptive) if view.active(i)]
        ids = sorted(set(ids), key=ids.index)
        if ids:
            progress("Cancelling %d job%s" % (len(ids), "" if len(ids) == 1 else "s"))
        answer["cancelled"] = cancel(journal, view, ids)
        gone = [c["id"] for c in answer["cancelled"] if c["outcome"] in ("deleted", "gone")]
        answer["exiting"] = wait_gone(gone, float(args.get("waitSeconds", 60)), progress, agent.stop_requested)
        for f in (ADAPT_STATE_FILE, ADAPT_CANCELLED_FILE, WORKER_SCRIPT, SCHEDULER_SCRIPT, LAUNCH_FILE):
            _remove_quietly(os.path.join(cdir, f))
        if answer["exiting"] or [c for c in answer["cancelled"] if c["outcome"] == "error"]:
            purge = False  # the journal still has work to do: keep it
        else:
            purge = bool(args.get("purge"))
        answer["warnings"] += _record_history(cdir, journal, _reconciled(journal, name, cdir), compact=True)
        journal.compact()
        answer["warnings"] += journal.warnings
    if purge:
        shutil.rmtree(cdir, ignore_errors=True)
        answer["purged"] = True
    return answer


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
    order = dict((i, n) for n, i in enumerate(ids))
    answer["cancelled"].sort(key=lambda c: order.get(c["id"], len(ids)))
    return answer


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


WORKERS_POLL = 0.2  # seconds between two questions to the scheduler (never to PBS)
WORKERS_WAIT_MAX = 60


def workers_seen(status):
    """The scheduler's workers by name and status (None without an answer from it): what a `workers` wait is
    changed from. Snapshots carry it; the client hands it back as it got it."""
    if not isinstance(status, dict) or not status.get("ok"):
        return None
    return sorted([str(w.get("name")), str(w.get("status"))] for w in status.get("workers") or [])


def op_workers(args, progress, agent):
    """Asks the scheduler alone until its workers differ from `seen`, `waitSeconds` pass or the client stops it, and
    answers its status document. The client holds it against the jobs of its last snapshot: a worker that joins is
    seen within a poll, while PBS is asked no more often than the client takes a snapshot."""
    name, cdir = _cluster(args)
    seen = args.get("seen")
    timeout = float(args.get("probeTimeout", 5))
    deadline = time.monotonic() + max(0.0, min(float(args.get("waitSeconds", 5)), WORKERS_WAIT_MAX))
    while True:
        status = _status_probe(name, timeout) if os.path.isdir(cdir) else None
        now = workers_seen(status)
        if now != seen or time.monotonic() >= deadline or agent.stop_requested():
            return {"ok": True, "status": status, "workersSeen": now}
        time.sleep(WORKERS_POLL)


def op_discover(args, progress, agent):
    doc, rc, out, err = runtime_command(["list"], 60)
    if not doc:
        raise Refusal("list", "listing the clusters failed: %s" % (err or out).strip()[-300:], prologue=agent.prologue_log())
    jobs = {}
    base = os.path.join(root_dir(), "clusters")
    for entry in doc.get("clusters") or []:
        n = entry.get("name", "")
        if CLUSTER_NAME.match(n):
            jobs[n] = [j.to_doc() for j in Journal(os.path.join(base, n)).jobs.values()]
    return {"ok": True, "list": doc, "jobs": jobs}


def op_user_jobs(args, progress, agent):
    try:
        ids = qselect(["-u", user()])
        exclude = set(args.get("exclude") or [])
        jobs = qstat([i for i in ids if i not in exclude])
    except (PbsOutputError, pbs.PbsError) as e:
        raise _pbs_refusal(e)
    return {"ok": True, "qstat": json.dumps({"pbs_version": "agent", "pbs_server": "", "Jobs": jobs})}


def op_history(args, progress, agent):
    name, cdir = _cluster(args)
    if not os.path.isdir(cdir):
        return {"ok": True, "exists": False}
    # What PBS says now goes in first, so the report has the running jobs' figures and the ends nobody polled.
    _, _, warnings = _refresh(name, cdir, args)
    history = History(cdir)
    return {"ok": True, "exists": True, "jobs": history.to_docs(), "warnings": warnings + history.warnings}


def _cluster_of(job_id):
    """The cluster whose journal holds this job, or None."""
    base = os.path.join(root_dir(), "clusters")
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return None
    for n in names:
        cdir = os.path.join(base, n)
        if CLUSTER_NAME.match(n) and os.path.exists(os.path.join(cdir, "journal.jsonl")) and job_id in Journal(cdir).jobs:
            return n
    return None


def op_qdel(args, progress, agent):
    """qdel for the user's jobs of no cluster, one qdel per id so each has PBS's own exit status and message. A
    cluster's job is refused: it is cancelled through its cluster (lock, journal, workers retired first)."""
    ids = [str(i) for i in args.get("ids") or []]
    bad = [i for i in ids if not JOB_ID.match(i)]
    if bad:
        raise Refusal("bad-request", "not PBS job ids: %s" % ", ".join(bad))
    results = []
    for i in ids:
        owner = _cluster_of(i)
        if owner:
            results.append({"id": i, "outcome": "error", "cluster": owner,
                            "message": "job %s belongs to cluster %s: cancel it through that cluster" % (i, owner)})
            continue
        try:
            rc, out, err = pbs.run(["qdel", i], 60)
        except pbs.PbsError as e:
            results.append({"id": i, "outcome": "error", "message": str(e)})
            continue
        said = (err + out).strip()
        if rc == 0:
            outcome = "deleted"
        elif rc in pbs.QDEL_GONE or pbs.QDEL_GONE_TEXT.search(said) or pbs.QDEL_LEAVING.search(said):
            outcome = "gone"
        else:
            outcome = "error"
        entry = {"id": i, "outcome": outcome, "exitCode": rc}
        if said:
            entry["message"] = said
        results.append(entry)
    return {"ok": True, "cancelled": results}


OPERATIONS = {
    "hello": op_hello, "apply": op_apply, "snapshot": op_snapshot, "down": op_down, "cancel": op_cancel,
    "probe": op_probe, "discover": op_discover, "user-jobs": op_user_jobs, "history": op_history, "qdel": op_qdel,
    "workers": op_workers,
}


def run(op, args, progress, agent):
    try:
        return OPERATIONS[op](args, progress, agent)
    except Refusal as r:
        return r.doc
