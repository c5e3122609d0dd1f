"""PBS actions, journaled: every qsub and qdel is recorded in the journal before the operation answers."""
import sys
import time

from . import inflight, pbs
from .op_common import runtime_command
from .pbsjson import PbsOutputError
from .reconcile import qselect, unique_name, user


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


# While deleted jobs end, PBS is asked often at first (a job usually leaves within seconds), then once a second: each
# PBS command holds a privileged port on the login node for a minute after it ends.
GONE_POLL = ((6.0, 0.25), (float("inf"), 1.0))


def wait_gone(ids, seconds, progress, stop=lambda: False):
    """Waits (bounded, or until the client stops it) until PBS no longer runs these jobs; returns those still exiting.
    Asks qselect for the user's unfinished jobs: unlike qstat it never sleeps because a query came in the same
    second."""
    started = time.time()
    deadline = started + max(0.0, seconds)
    left = list(ids)
    said = None
    while left:
        try:
            unfinished = set(qselect(["-u", user()]))
        except (PbsOutputError, pbs.PbsError):
            return left
        left = [i for i in left if i in unfinished]
        if not left or time.time() >= deadline or stop():
            return left
        message = "Waiting for %d job%s to leave PBS: %s" % (len(left), "" if len(left) == 1 else "s", ", ".join(left))
        if message != said:
            progress(message)
            said = message
        time.sleep(next(every for until, every in GONE_POLL if time.time() - started < until))
    return left
