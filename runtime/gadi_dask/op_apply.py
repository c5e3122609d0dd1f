"""apply: the scheduler ensured (a dead one replaced), the workers scaled to a count, adaptivity on or off."""
import json
import os

from . import liveness, session, tls
from .common import ADAPT_REQUEST_FILE, SCHEDULER_FILE, remove_file, write_json_atomic
from .journal import Journal, JournalWriteError
from .op_common import (LAUNCH_FILE, RUNTIME_DIR, SCHEDULER_SCRIPT, WORKER_SCRIPT, Locked, Refusal, _cluster,
                        _document, _reconciled, _write_atomic, runtime_command)
from .op_pbs import cancel, retire, submit, wait_gone
from .pacing import GADI_SUBMISSIONS_PER_MINUTE, Pacer


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
    in_session = ensure.get("placement") == "persistent-session"
    if in_session:
        try:
            session.check(ensure.get("session"))  # before anything changes
        except session.SessionError as e:
            raise Refusal("bad-request", str(e))
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
    if in_session:
        return _start_in_session(ensure, name, cdir)
    # Login node: the launcher's options from a private file, not argv (other users see argv).
    _write_atomic(os.path.join(cdir, LAUNCH_FILE), json.dumps(ensure.get("launch") or {}), 0o600)
    doc, rc, out, err = runtime_command(
        ["scheduler", "--name", name, "--config", os.path.join(cdir, LAUNCH_FILE), "--detach", "--wait", "60"], 120)
    return {"kind": "started-login", "start": doc, "output": (out + err)[-2000:]}


def _start_in_session(ensure, name, cdir):
    """The scheduler in the config's persistent session, the session started first when it cannot be reached. The
    launcher's options go in the private launch file of the shared home, the prologue and python on ssh's stdin."""
    try:
        where = session.ensure(ensure.get("session"))
    except session.SessionError as e:
        raise Refusal("session", str(e))
    launch = dict(ensure.get("launch") or {}, placement="persistent-session", session=where)
    _write_atomic(os.path.join(cdir, LAUNCH_FILE), json.dumps(launch), 0o600)
    args = ["--name", name, "--config", os.path.join(cdir, LAUNCH_FILE), "--detach", "--wait", "60"]
    rc, out, err = session.start_scheduler(where["host"], RUNTIME_DIR, args, "\n".join(ensure.get("prologue") or []),
                                           str(ensure.get("python") or "python3"))
    return {"kind": "started-session", "start": _document(out), "output": (out + err)[-2000:], "session": where}


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
        pacer = Pacer(_submit_rate(args))
        for n in range(need):
            if n == pacer.burst:
                progress("Pacing the submissions: %d of %d worker jobs submitted, the rest at %g a minute (Gadi takes "
                         "at most %d qsubs a minute from one user)" % (n, need, pacer.rate, GADI_SUBMISSIONS_PER_MINUTE))
            if agent.stop_requested() or not pacer.wait(agent.stop_requested):
                answer["stopped"] = True  # between two submissions: what was submitted is journaled and answered
                break
            if n and n % 5 == 0:
                progress("Submitted %d of %d worker jobs%s" % (n, need, " (paced)" if pacer.pacing else ""))
            job_id, error = submit(journal, cdir, "worker", WORKER_SCRIPT, extra, cluster=name)
            pacer.submitted()
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


def _hold(args, view, cdir, answer):
    """Scale's target, for the scheduler's controller to hold (adaptive_controller.py): a job that ends is replaced,
    one near its retirement gets a successor. What this apply could not reach (stopped, refused) is not held: the
    size held is what is there, so a refusal is never retried blindly."""
    hold = args.get("hold")
    target = int(args["scaleTo"])
    if not isinstance(hold, dict) or target == 0:
        return
    cancelled = set(c["id"] for c in answer["cancelled"])
    live = [i for i in view.worker_ids() if view.active(i) and i not in cancelled and i not in answer["submitted"]]
    if answer.get("stopped") or answer["submitErrors"]:
        target = len(live) + len(answer["submitted"])
    write_json_atomic(os.path.join(cdir, ADAPT_REQUEST_FILE), dict(
        hold, hold=True, min=target, max=target, cooldown=0, scaleDownDelay=0, jobs=live, submitted=answer["submitted"]))
    answer["holding"] = target


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


def _submit_rate(args):
    rate = args.get("submitRate", GADI_SUBMISSIONS_PER_MINUTE)
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0:
        raise Refusal("bad-request", "submitRate must be a positive number of qsubs a minute, not %r" % (rate,))
    return rate


def _check_ceiling(args, journal, view):
    """Refuses, before anything is submitted, a request whose new jobs would take the user's live jobs (every
    cluster's and every other job's, as PBS lists them) above the ceiling `maxJobs`. Only new jobs count: a request
    that submits nothing is never refused."""
    ceiling = args.get("maxJobs")
    if ceiling is None:
        return
    if isinstance(ceiling, bool) or not isinstance(ceiling, int) or ceiling < 1:
        raise Refusal("bad-request", "maxJobs must be a whole number from 1 up, not %r" % (ceiling,))
    ensure = args.get("ensureScheduler") or {}
    pending = journal.pending("worker") + journal.pending("scheduler")
    have = len([i for i in view.worker_ids() if view.active(i)]) + len(journal.pending("worker"))
    adapt = args.get("adapt")
    if args.get("scaleTo") is not None:
        want = int(args["scaleTo"])
    elif isinstance(adapt, dict):
        want = int(adapt.get("max") or 0)  # adaptivity may grow to its maximum
    else:
        want = have
    new_scheduler = ensure.get("placement") == "job" and not view.scheduler_job() and not journal.pending("scheduler")
    adding = max(0, want - have) + (1 if new_scheduler else 0)
    if not adding:
        return
    live = len(view.user_live()) + len(pending)  # the reconcile has just asked PBS for the user's jobs
    if live + adding > ceiling:
        raise Refusal("ceiling", "%d live jobs of the user and %d new ones would pass the ceiling of %d jobs" % (
            live, adding, ceiling), userJobs=live, adding=adding, ceiling=ceiling)


def _apply(args, progress, agent, name, cdir, answer):
    _write_atomic(os.path.join(cdir, WORKER_SCRIPT), args["workerScript"])
    journal = Journal(cdir)
    answer["warnings"] += journal.warnings
    view = _reconciled(journal, name, cdir)
    sid = view.scheduler_job()
    ids = ([sid] if sid else []) + [i for i in view.worker_ids() if view.active(i)]
    answer["before"] = [{"id": i, "state": view.state(i), "role": "scheduler" if i == sid else "worker"} for i in ids]
    _submit_rate(args)
    _check_ceiling(args, journal, view)
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
        _hold(args, view, cdir, answer)
    if isinstance(adapt, dict):
        live = [i for i in view.worker_ids() if view.active(i)] + answer["submitted"]
        write_json_atomic(os.path.join(cdir, ADAPT_REQUEST_FILE), dict(adapt, jobs=live))
        answer["adaptAdopted"] = len(live)
    journal.compact()
    answer["warnings"] += [w for w in journal.warnings if w not in answer["warnings"]]
