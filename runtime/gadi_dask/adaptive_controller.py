"""Runs inside the scheduler launcher: watches adapt.json, observes the scheduler, applies ``adaptive.decide``.

It lives in the launcher (not in the editor) so that a cluster keeps its size, or adapts, after the editor closes.
Scale writes a fixed size (``hold``: min = max), Adapt a range; both are the same target to this one loop, which
replaces a job that ends for any reason, and submits a job's successor ahead of its retirement by the queue wait
this cluster has seen (adaptive.handover_lead). Every qsub is journaled, under the cluster's lock.
"""
import asyncio
import logging
import os
import time
from collections import deque

from . import pbs
from .adaptive import (
    FAILED_STARTS_LIMIT, PENDING, QUEUE_WAIT_SAMPLES, RUNNING, Job, Load, Memory, Params, check_params, decide,
    earliest_retirement, handover_lead,
)
from .common import (
    ADAPT_CANCELLED_FILE, ADAPT_REQUEST_FILE, ADAPT_STATE_FILE, now_iso, parse_worker_name, read_json, write_json_atomic,
)
from .lock import ClusterLock, LockBusy
from .pacing import GADI_SUBMISSIONS_PER_MINUTE

log = logging.getLogger("gadi_dask.adaptive")

LIVE = ("pending", "running")  # tracked job states that count as capacity
FINAL = ("cancelled", "retired", "gone")
ENDING = pbs.DONE_STATES | {"E"}  # a job PBS is ending runs no worker any more: no longer capacity
MAX_BACKOFF = 900.0
RETIRE_TIMEOUT = 120.0
FAILED_START_BACKOFF = 15.0  # doubles with each failure in a row
LOST_QSTAT_INTERVAL = 5.0  # how soon PBS is asked again about a job whose workers left
FRESH_QSTAT_INTERVAL = 10.0  # and about a job submitted less than FRESH_JOB seconds ago
FRESH_JOB = 120.0
# Half of Gadi's qsubs a minute: the user's own submissions keep the other half.
SUBMISSIONS_PER_MINUTE = GADI_SUBMISSIONS_PER_MINUTE // 2
ERROR_TEXT_LIMIT = 2000
LOCK_WAIT = 2.0  # a busy lock (an operation of the agent) waits for the next step


class Busy(Exception):
    """The cluster's lock is held by an operation: nothing was submitted; the next step tries again."""


def inputs_stamp(cdir):
    """What the agent last told the controller (the target, the jobs the user cancelled), as file stamps."""
    stamps = []
    for name in (ADAPT_REQUEST_FILE, ADAPT_CANCELLED_FILE):
        try:
            st = os.stat(os.path.join(cdir, name))
            stamps.append((st.st_mtime_ns, st.st_size, st.st_ino))
        except FileNotFoundError:
            stamps.append(None)
    return tuple(stamps)


def journaled_qsub(cdir, cluster, script, args, decided_on=None):
    """One qsub of the worker script, journaled like the agent's (op_pbs.submit) under the cluster's lock. When the
    agent changed the target or cancelled jobs since the step read them (decided_on), nothing is submitted: a cancel
    that ran while the step looked would otherwise be replaced."""
    from .journal import Journal
    from .op_pbs import submit

    lock = ClusterLock(cdir, "scheduler of %s" % cluster, 600)
    try:
        lock.acquire(LOCK_WAIT)
    except LockBusy:
        raise Busy()
    try:
        if decided_on is not None and inputs_stamp(cdir) != decided_on:
            raise Busy()
        job_id, error = submit(Journal(cdir), cdir, "worker", os.path.basename(script), args, cluster=cluster)
    finally:
        lock.release()
    if error:
        raise pbs.PbsError(pbs.qsub_failure(error.get("rc"), error.get("stdout") or "", error.get("stderr") or ""))
    return job_id


def journal_note(cdir, cluster, op, **fields):
    """A record of the controller's own in the journal (the agent's replay ignores ops it does not know)."""
    from .journal import Journal

    lock = ClusterLock(cdir, "scheduler of %s" % cluster, 600)
    try:
        lock.acquire(LOCK_WAIT)
    except LockBusy:
        return False
    try:
        Journal(cdir).record(op, **fields)
        return True
    except Exception as e:  # a note is worth less than the loop that writes it
        log.warning("journal: %s", e)
        return False
    finally:
        lock.release()


def read_tail(path, limit=ERROR_TEXT_LIMIT):
    """The last ``limit`` characters of a job's error file, or None when it is not there (yet)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - limit))
            return f.read().decode("utf-8", "replace").strip()
    except (OSError, TypeError):
        return None


class RequestError(ValueError):
    pass


def _number(doc, key, default, low):
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low:
        raise RequestError("%s must be a number >= %s" % (key, low))
    return float(value)


def parse_request(doc):
    """Validate adapt.json (format in runtime/README.md); raise RequestError with a readable reason."""
    if not isinstance(doc, dict):
        raise RequestError("adapt.json must hold a JSON object")
    for key in ("min", "max"):
        if isinstance(doc.get(key), bool) or not isinstance(doc.get(key), int):
            raise RequestError("%s must be an integer" % key)
    threads = doc.get("threadsPerJob")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise RequestError("threadsPerJob must be an integer >= 1")
    args = doc.get("qsubArgs", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise RequestError("qsubArgs must be a list of strings")
    adopt = doc.get("jobs", [])
    if not isinstance(adopt, list) or not all(isinstance(a, str) and a for a in adopt):
        raise RequestError("jobs must be a list of PBS job ids")
    script = doc.get("jobScript", "worker.pbs")
    if not isinstance(script, str) or not script:
        raise RequestError("jobScript must be a file name")
    own = doc.get("submitted", [])
    if not isinstance(own, list) or not all(isinstance(a, str) and a for a in own):
        raise RequestError("submitted must be a list of PBS job ids")
    expiry = doc.get("expiry") or {}
    if not isinstance(expiry, dict):
        raise RequestError("expiry must be an object")
    for key in ("lifetime", "stagger", "walltime"):
        value = expiry.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise RequestError("expiry.%s must be a number of seconds" % key)
    req = {
        "min": doc["min"],
        "max": doc["max"],
        "threadsPerJob": threads,
        "jobScript": script,
        "qsubArgs": list(args),
        "jobs": list(adopt),
        "submitted": list(own),
        "hold": doc.get("hold") is True,
        "expiry": dict((k, expiry.get(k)) for k in ("lifetime", "stagger", "walltime")),
        "interval": _number(doc, "interval", 5.0, 0.1),
        "scaleDownDelay": _number(doc, "scaleDownDelay", 120.0, 0),
        "cooldown": _number(doc, "cooldown", 30.0, 0),
        "qstatInterval": _number(doc, "qstatInterval", 60.0, 1),
    }
    try:
        check_params(Params(req["min"], req["max"], threads or 1, req["scaleDownDelay"], req["cooldown"]))
    except ValueError as e:
        raise RequestError(str(e))
    return req


class AdaptiveController:
    def __init__(self, scheduler, cdir, cluster=None):
        self.s = scheduler
        self.cdir = cdir
        self.cluster = cluster or os.path.basename(os.path.normpath(cdir))
        self.qsub = lambda script, args: journaled_qsub(cdir, self.cluster, script, args, self.decided_on)
        self.decided_on = None  # inputs_stamp when the step read the agent's files
        self.request = None
        self.request_stamp = None
        self.memory = Memory()
        self.tracked = {}
        self.waits = deque(maxlen=QUEUE_WAIT_SAMPLES)  # seconds from qsub to the job's first worker
        self.submissions = deque()  # times of the controller's recent qsubs (its own pace)
        self.last_decision = None
        self.last_action = None
        self.error = None
        self.failures = 0
        self.failed_starts = 0
        self.given_up = None  # why the target is no longer held, until the next request
        self.backoff_until = 0.0
        self.last_qstat = 0.0
        self.last_written = None
        self.stopped = False
        self._load_tracked()

    # ---- persistence -------------------------------------------------------------------------------------
    def _load_tracked(self):
        # Jobs submitted by a previous launcher of this cluster may still be queued: keep counting them.
        old = read_json(os.path.join(self.cdir, ADAPT_STATE_FILE)) or {}
        for job in old.get("jobs") or []:
            if isinstance(job, dict) and job.get("state") in LIVE and isinstance(job.get("id"), str):
                started = job.get("started")
                self.tracked[job["id"]] = self._job(
                    job["id"], float(job.get("submitted") or time.time()), bool(job.get("adopted")),
                    started=started if isinstance(started, (int, float)) else None)
        for wait in old.get("queueWaits") or []:
            if isinstance(wait, (int, float)) and not isinstance(wait, bool) and wait >= 0:
                self.waits.append(float(wait))

    @staticmethod
    def _job(jid, submitted, adopted, state="pending", started=None, replaces=None):
        return {"id": jid, "state": state, "submitted": submitted, "adopted": adopted, "everRan": state == "running",
                "started": started, "handover": False, "replaces": replaces, "errorPath": None}

    def _expiry(self, job):
        return earliest_retirement(job["started"], self.request and self.request["expiry"])

    def _lead(self):
        expiry = (self.request or {}).get("expiry") or {}
        life = (expiry.get("lifetime") or 0) - (expiry.get("stagger") or 0) or (expiry.get("walltime") or 0)
        return handover_lead(list(self.waits), life)

    def state(self):
        req = self.request
        live = [j for j in self.tracked.values() if j["state"] in LIVE]
        expiries = [e for e in (self._expiry(j) for j in live if j["state"] == "running") if e is not None]
        return {
            "enabled": req is not None and not self.stopped,
            "hold": bool(req and req["hold"]),
            "min": req["min"] if req else None,
            "max": req["max"] if req else None,
            "threadsPerJob": self._threads_per_job() if req else None,
            "running": len([j for j in live if j["state"] == "running"]),
            "queued": len([j for j in live if j["state"] == "pending"]),
            "replacementsQueued": len([j for j in live if j["state"] == "pending" and j["replaces"]]),
            "handingOver": len([j for j in live if j["handover"]]),
            "nextExpiry": now_iso(min(expiries)) if expiries else None,
            "handoverLead": round(self._lead()) if req else None,
            "queueWaits": [round(w, 1) for w in self.waits],
            "failedStarts": self.failed_starts,
            "givenUp": self.given_up,
            "jobs": [
                {
                    "id": j["id"], "state": j["state"], "submitted": j["submitted"],
                    "submittedAt": now_iso(j["submitted"]), "adopted": j["adopted"], "started": j["started"],
                    "handover": j["handover"], "replaces": j["replaces"],
                }
                for j in sorted(self.tracked.values(), key=lambda j: j["submitted"])
            ],
            "lastDecision": self.last_decision,
            "lastAction": self.last_action,
            "error": self.error,
            "backoffUntil": now_iso(self.backoff_until) if self.backoff_until > time.time() else None,
        }

    def _write_state(self, force=False):
        doc = self.state()
        if not force and doc == self.last_written:
            return
        self.last_written = doc
        try:
            write_json_atomic(os.path.join(self.cdir, ADAPT_STATE_FILE), dict(doc, updatedAt=now_iso()))
        except OSError as e:
            log.warning("cannot write %s: %s", ADAPT_STATE_FILE, e)

    # ---- request -----------------------------------------------------------------------------------------
    def _read_request(self, now):
        path = os.path.join(self.cdir, ADAPT_REQUEST_FILE)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            if self.request is not None:
                log.info("no target any more (%s removed); jobs are left as they are", ADAPT_REQUEST_FILE)
            self.request, self.request_stamp = None, None
            return
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp == self.request_stamp:
            return
        self.request_stamp = stamp
        doc = read_json(path)
        try:
            req = parse_request(doc)
        except RequestError as e:
            self.request = None
            self.error = "invalid %s: %s" % (ADAPT_REQUEST_FILE, e)
            log.warning(self.error)
            return
        if self.request is None or (req["min"], req["max"]) != (self.request["min"], self.request["max"]):
            log.info("holding %d jobs" % req["min"] if req["hold"] else "adaptive between %d and %d jobs" % (
                req["min"], req["max"]))
            self.memory = Memory()  # a new range starts without an old cooldown or low-demand window
        self.request = req
        self.error = None
        # A new request is the user acting: whatever made us stop holding may be fixed; try again from scratch.
        self.given_up, self.failed_starts, self.failures, self.backoff_until = None, 0, 0, 0.0
        known = set(req["jobs"]) | set(req["submitted"])
        for job in self.tracked.values():
            # The agent wrote this request under the cluster's lock with every live worker job it knows: a queued job
            # it left out was cancelled or is gone (e.g. bound to a scheduler that died before it wrote its state).
            if job["state"] == "pending" and job["id"] not in known:
                job["state"] = "gone"
        for jid in req["jobs"] + req["submitted"]:
            if jid not in self.tracked:
                self.tracked[jid] = self._job(jid, now, jid not in req["submitted"])

    def _read_cancelled(self):
        # Jobs the user cancelled from the extension: no longer capacity, and not a failed submission to back off from.
        try:
            with open(os.path.join(self.cdir, ADAPT_CANCELLED_FILE)) as f:
                ids = f.read().split()
        except OSError:
            return
        for jid in ids:
            job = self.tracked.get(jid)
            if job is not None and job["state"] in LIVE:
                job["state"] = "cancelled"

    def _threads_per_job(self):
        if self.request and self.request["threadsPerJob"]:
            return self.request["threadsPerJob"]
        seen = {}
        for ws in self.s.workers.values():
            jid = parse_worker_name(ws.name)["pbsJobId"]
            if jid:
                seen[jid] = seen.get(jid, 0) + ws.nthreads
        return max(seen.values()) if seen else 1

    # ---- observation -------------------------------------------------------------------------------------
    def _observe(self, now):
        groups = {}
        processing = 0
        for ws in list(self.s.workers.values()):
            processing += len(ws.processing)
            jid = parse_worker_name(ws.name)["pbsJobId"]
            if not jid:
                continue
            g = groups.setdefault(jid, {"addresses": [], "processing": 0, "nbytes": 0})
            g["addresses"].append(ws.address)
            g["processing"] += len(ws.processing)
            g["nbytes"] += int(getattr(ws, "nbytes", 0) or 0)
        tasks = processing + len(getattr(self.s, "queued", ()) or ()) + len(getattr(self.s, "unrunnable", ()) or ())
        for jid in groups:
            job = self.tracked.get(jid)
            if job is None:
                # A job of this cluster started by someone else (e.g. a manual scale): the controller now owns it.
                self.tracked[jid] = self._job(jid, now, True, state="running", started=now)
            elif job["state"] in LIVE:
                if job["started"] is None:
                    job["started"] = now
                    if not job["adopted"]:
                        self.waits.append(max(0.0, now - job["submitted"]))
                if not job["everRan"]:
                    self.failed_starts = 0  # a start that worked ends a run of failed ones
                job["state"], job["everRan"] = "running", True
        for job in self.tracked.values():
            if job["state"] == "running" and job["id"] not in groups:
                job["state"] = "pending"  # workers gone or restarting; qstat will tell whether the job ended
        return tasks, groups

    async def _refresh_from_qstat(self, now, groups):
        unseen = [j for j in self.tracked.values() if j["state"] in LIVE and j["id"] not in groups]
        # Asked about soon: a job whose workers left (a qdel, a memory kill, its walltime), and one it has just
        # submitted (a prologue that fails ends it within a minute of its start). One qstat asks for all of them.
        if any(j["everRan"] for j in unseen):
            interval = LOST_QSTAT_INTERVAL
        elif any(not j["adopted"] and now - j["submitted"] < FRESH_JOB for j in unseen):
            interval = FRESH_QSTAT_INTERVAL
        else:
            interval = self.request["qstatInterval"]
        interval = min(interval, self.request["qstatInterval"])
        if not unseen or now - self.last_qstat < interval:
            return
        self.last_qstat = now
        try:
            found = await asyncio.get_running_loop().run_in_executor(None, pbs.qstat_jobs, [j["id"] for j in unseen])
        except pbs.PbsError as e:
            log.warning("qstat: %s", e)  # unknown states: keep counting the jobs
            return
        for jid, info in found.items():
            job = self.tracked[jid]
            job["errorPath"] = info.get("errorPath") or job["errorPath"]
            if info["state"] in ENDING:
                job["state"] = "gone"
                # Stopped by a SIGTERM (a qdel by hand, PBS): no failed start, even if it ended before we saw a worker.
                if not job["everRan"] and info.get("exitStatus") not in pbs.SIGTERM_EXIT_STATUSES:
                    self._failed_start(job, info, now)

    def _failed_start(self, job, info, now):
        self.failed_starts += 1
        status = info.get("exitStatus")
        why = "job %s ended before any worker connected%s" % (
            job["id"], " (exit status %s)" % status if status is not None else "")
        if self.failed_starts >= FAILED_STARTS_LIMIT:
            self._give_up("%d jobs in a row ended before any worker connected; the last: %s" % (
                self.failed_starts, why), now, job)
        else:
            self._failed(why, now, FAILED_START_BACKOFF)

    def _give_up(self, reason, now, job=None):
        """Stop submitting until the user sets a target again: more jobs would be charged for the same failure."""
        self.given_up = {"at": now_iso(now), "reason": reason, "job": job["id"] if job else None,
                         "errorPath": job["errorPath"] if job else None, "errorText": None, "journaled": False}
        self.error = "not holding the target any more: %s" % reason
        log.warning(self.error)

    def _complete_given_up(self):
        # The job's error file appears when PBS has copied it, a little after the job ends.
        g = self.given_up
        if g is None:
            return
        if g["errorText"] is None and g["errorPath"]:
            g["errorText"] = read_tail(g["errorPath"])
        if not g["journaled"]:
            g["journaled"] = journal_note(self.cdir, self.cluster, "target-given-up", reason=g["reason"], job=g["job"])

    def _failed(self, message, now, base=30.0):
        self.failures += 1
        delay = min(MAX_BACKOFF, base * 2 ** (self.failures - 1))
        self.backoff_until = now + delay
        self.error = "%s; next submission in %ds" % (message, delay)
        log.warning(self.error)

    def _mark_handovers(self, now):
        """Running jobs whose retirement is nearer than a replacement's queue wait stop counting as capacity, once:
        the decision then submits exactly one successor for each."""
        if not self.request["expiry"]:
            return []
        lead = self._lead()
        handing = []
        for job in self.tracked.values():
            if job["state"] not in LIVE or job["handover"]:
                continue
            ends = self._expiry(job)
            if ends is not None and now >= ends - lead:
                job["handover"] = True
                handing.append(job["id"])
        return handing

    # ---- one step ----------------------------------------------------------------------------------------
    async def step(self, now=None):
        now = time.time() if now is None else now
        self.decided_on = inputs_stamp(self.cdir)
        self._read_request(now)
        self._read_cancelled()
        tasks, groups = self._observe(now)
        if self.request is None or self.stopped:
            if self.tracked or self.error or self.last_written is not None:
                self._write_state()  # report "off" once adaptivity was used; never create the file otherwise
            return None
        await self._refresh_from_qstat(now, groups)
        self._mark_handovers(now)
        self._prune(now)
        self._complete_given_up()
        req = self.request
        params = Params(req["min"], req["max"], self._threads_per_job(), req["scaleDownDelay"], req["cooldown"])
        jobs = tuple(
            Job(j["id"], RUNNING if j["id"] in groups else PENDING,
                groups.get(j["id"], {}).get("processing", 0), groups.get(j["id"], {}).get("nbytes", 0),
                j["submitted"])
            for j in self.tracked.values() if j["state"] in LIVE and not j["handover"]
        )
        decision, memory = decide(params, Load(now, tasks, jobs), self.memory)
        self.last_decision = {"at": now_iso(now), "tasks": tasks, "jobs": len(jobs), "target": decision.target,
                              "reason": decision.reason}
        if decision.submit and (now < self.backoff_until or self.given_up):
            self._write_state()
            return decision
        self.memory = memory
        if decision.submit or decision.cancel or decision.retire:
            await self._apply(decision, groups, now)
        self._write_state()
        return decision

    def _owed(self):
        """What a new job replaces: a job handing over without a successor, else one that ended, oldest first."""
        taken = set(j["replaces"] for j in self.tracked.values() if j["replaces"])
        for job in sorted(self.tracked.values(), key=lambda j: j["submitted"]):
            if job["id"] not in taken and job["everRan"] and (job["handover"] or job["state"] == "gone"):
                return job["id"]
        return None

    def _pace(self, now):
        """Whether the controller may qsub now: at most SUBMISSIONS_PER_MINUTE in any minute."""
        while self.submissions and now - self.submissions[0] >= 60:
            self.submissions.popleft()
        return len(self.submissions) < SUBMISSIONS_PER_MINUTE

    async def _apply(self, decision, groups, now):
        loop = asyncio.get_running_loop()
        action = {"at": now_iso(now), "reason": decision.reason, "submitted": [], "cancelled": [], "retired": [],
                  "errors": []}
        script = os.path.join(self.cdir, self.request["jobScript"])
        for _ in range(decision.submit):
            if not self._pace(now):
                break  # the rest in a later step
            try:
                jid = await loop.run_in_executor(None, self.qsub, script, self.request["qsubArgs"])
            except Busy:
                break  # the agent is changing the cluster; the next step sees what it did
            except pbs.PbsError as e:
                action["errors"].append(str(e))
                self.submissions.append(now)
                self._failed_qsub(str(e), now)
                break
            self.submissions.append(now)
            self.failures = 0
            self.tracked[jid] = self._job(jid, now, False, replaces=self._owed())
            action["submitted"].append(jid)
        if decision.cancel:
            await self._qdel(decision.cancel, "cancelled", action)
        for jid in decision.retire:
            addresses = groups.get(jid, {}).get("addresses", [])
            try:
                retired = await asyncio.wait_for(
                    self.s.retire_workers(workers=addresses, close_workers=True, remove=True), RETIRE_TIMEOUT
                )
            except Exception as e:  # keep the job: cancelling it could lose data
                action["errors"].append("retiring job %s failed: %s" % (jid, e))
                continue
            if set(addresses) - set(retired or ()):
                action["errors"].append("job %s kept: its data could not be moved to other workers" % jid)
                continue
            await self._qdel([jid], "retired", action)
        if action["errors"]:
            self.error = self.error if self.given_up else "; ".join(action["errors"])
        elif action["submitted"] or action["cancelled"] or action["retired"]:
            self.error = None
        self.last_action = action
        log.info("adaptive: %s", action)

    def _failed_qsub(self, message, now):
        # A refused qsub (allocation spent, a queue limit) is refused again: after a few, stop and say why.
        self.failed_starts += 1
        if self.failed_starts >= FAILED_STARTS_LIMIT:
            self._give_up("%d submissions in a row failed; the last: %s" % (self.failed_starts, message), now)
        else:
            self._failed(message, now)

    async def _qdel(self, ids, final_state, action):
        try:
            result = await asyncio.get_running_loop().run_in_executor(None, pbs.qdel, list(ids))
        except pbs.PbsError as e:
            action["errors"].append(str(e))
            return
        for jid, outcome in result.items():
            if outcome in ("deleted", "gone"):
                self.tracked[jid]["state"] = final_state
                action[final_state].append(jid)
            else:
                action["errors"].append("qdel %s: %s" % (jid, outcome))

    def _prune(self, now):
        for jid in [j["id"] for j in self.tracked.values() if j["state"] in FINAL and now - j["submitted"] > 3600]:
            del self.tracked[jid]

    # ---- lifecycle ---------------------------------------------------------------------------------------
    def live_job_ids(self):
        return [j["id"] for j in self.tracked.values() if j["state"] in LIVE]

    async def run(self, stopping):
        while not stopping.is_set() and not self.stopped:
            try:
                await self.step()
            except Exception:  # adaptivity must never take the scheduler down
                log.exception("adaptive step failed")
            interval = self.request["interval"] if self.request else 2.0
            try:
                await asyncio.wait_for(stopping.wait(), interval)
            except asyncio.TimeoutError:
                pass

    async def shutdown(self):
        """Stop adapting and cancel every job adaptivity knows of (queued ones would otherwise start later)."""
        self.stopped = True
        ids = self.live_job_ids()
        action = {"at": now_iso(), "reason": "scheduler stopping", "submitted": [], "cancelled": [], "retired": [],
                  "errors": []}
        if ids:
            await self._qdel(ids, "cancelled", action)
            self.last_action = action
        if self.tracked or self.last_written is not None:
            self._write_state(force=True)
        return ids
