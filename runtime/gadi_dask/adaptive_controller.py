"""Runs inside the scheduler launcher: watches adapt.json, observes the scheduler, applies ``adaptive.decide``.

It lives in the launcher (not in the editor) so that a cluster keeps adapting after the editor closes.
"""
import asyncio
import logging
import os
import time

from . import pbs
from .adaptive import PENDING, RUNNING, Job, Load, Memory, Params, check_params, decide
from .common import (
    ADAPT_CANCELLED_FILE, ADAPT_REQUEST_FILE, ADAPT_STATE_FILE, now_iso, parse_worker_name, read_json, write_json_atomic,
)

log = logging.getLogger("gadi_dask.adaptive")

LIVE = ("pending", "running")  # tracked job states that count as capacity
FINAL = ("cancelled", "retired", "gone")
MAX_BACKOFF = 900.0
RETIRE_TIMEOUT = 120.0


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
    req = {
        "min": doc["min"],
        "max": doc["max"],
        "threadsPerJob": threads,
        "jobScript": script,
        "qsubArgs": list(args),
        "jobs": list(adopt),
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
    def __init__(self, scheduler, cdir):
        self.s = scheduler
        self.cdir = cdir
        self.request = None
        self.request_stamp = None
        self.memory = Memory()
        self.tracked = {}
        self.last_decision = None
        self.last_action = None
        self.error = None
        self.failures = 0
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
                self.tracked[job["id"]] = {
                    "id": job["id"], "state": "pending", "submitted": float(job.get("submitted") or time.time()),
                    "adopted": bool(job.get("adopted")), "everRan": False,
                }

    def state(self):
        req = self.request
        return {
            "enabled": req is not None and not self.stopped,
            "min": req["min"] if req else None,
            "max": req["max"] if req else None,
            "threadsPerJob": self._threads_per_job() if req else None,
            "jobs": [
                {
                    "id": j["id"], "state": j["state"], "submitted": j["submitted"],
                    "submittedAt": now_iso(j["submitted"]), "adopted": j["adopted"],
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
    def _read_request(self):
        path = os.path.join(self.cdir, ADAPT_REQUEST_FILE)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            if self.request is not None:
                log.info("adaptivity off (%s removed); jobs are left as they are", ADAPT_REQUEST_FILE)
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
            log.info("adaptive between %d and %d jobs", req["min"], req["max"])
            self.memory = Memory()  # a new range starts without an old cooldown or low-demand window
        self.request = req
        self.error = None
        for jid in req["jobs"]:
            if jid not in self.tracked:
                self.tracked[jid] = {"id": jid, "state": "pending", "submitted": time.time(), "adopted": True,
                                     "everRan": False}

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
                # A job of this cluster started by someone else (e.g. a manual scale): adaptivity now owns it.
                self.tracked[jid] = {"id": jid, "state": "running", "submitted": now, "adopted": True,
                                     "everRan": True}
            elif job["state"] in LIVE:
                job["state"], job["everRan"] = "running", True
        for job in self.tracked.values():
            if job["state"] == "running" and job["id"] not in groups:
                job["state"] = "pending"  # workers gone or restarting; qstat will tell whether the job ended
        return tasks, groups

    async def _refresh_from_qstat(self, now, groups):
        unseen = [j["id"] for j in self.tracked.values() if j["state"] in LIVE and j["id"] not in groups]
        if not unseen or now - self.last_qstat < self.request["qstatInterval"]:
            return
        self.last_qstat = now
        try:
            states = await asyncio.get_running_loop().run_in_executor(None, pbs.qstat_states, unseen)
        except pbs.PbsError as e:
            log.warning("qstat: %s", e)  # unknown states: keep counting the jobs
            return
        for jid, st in states.items():
            job = self.tracked[jid]
            if st in pbs.DONE_STATES:
                job["state"] = "gone"
                if not job["everRan"] and not job["adopted"]:
                    self._failed("job %s ended before any worker connected" % jid, now)

    def _failed(self, message, now):
        self.failures += 1
        delay = min(MAX_BACKOFF, 30.0 * 2 ** (self.failures - 1))
        self.backoff_until = now + delay
        self.error = "%s; next submission in %ds" % (message, delay)
        log.warning(self.error)

    # ---- one step ----------------------------------------------------------------------------------------
    async def step(self, now=None):
        now = time.time() if now is None else now
        self._read_request()
        self._read_cancelled()
        tasks, groups = self._observe(now)
        if self.request is None or self.stopped:
            if self.tracked or self.error or self.last_written is not None:
                self._write_state()  # report "off" once adaptivity was used; never create the file otherwise
            return None
        await self._refresh_from_qstat(now, groups)
        self._prune(now)
        req = self.request
        params = Params(req["min"], req["max"], self._threads_per_job(), req["scaleDownDelay"], req["cooldown"])
        jobs = tuple(
            Job(j["id"], RUNNING if j["id"] in groups else PENDING,
                groups.get(j["id"], {}).get("processing", 0), groups.get(j["id"], {}).get("nbytes", 0),
                j["submitted"])
            for j in self.tracked.values() if j["state"] in LIVE
        )
        decision, memory = decide(params, Load(now, tasks, jobs), self.memory)
        self.last_decision = {"at": now_iso(now), "tasks": tasks, "jobs": len(jobs), "target": decision.target,
                              "reason": decision.reason}
        if decision.submit and now < self.backoff_until:
            self._write_state()
            return decision
        self.memory = memory
        if decision.submit or decision.cancel or decision.retire:
            await self._apply(decision, groups, now)
        self._write_state()
        return decision

    async def _apply(self, decision, groups, now):
        loop = asyncio.get_running_loop()
        action = {"at": now_iso(now), "reason": decision.reason, "submitted": [], "cancelled": [], "retired": [],
                  "errors": []}
        script = os.path.join(self.cdir, self.request["jobScript"])
        for _ in range(decision.submit):
            try:
                jid = await loop.run_in_executor(None, pbs.qsub, script, self.request["qsubArgs"], self.cdir)
            except pbs.PbsError as e:
                action["errors"].append(str(e))
                self._failed(str(e), now)
                break
            self.failures = 0
            self.tracked[jid] = {"id": jid, "state": "pending", "submitted": now, "adopted": False,
                                 "everRan": False}
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
            self.error = "; ".join(action["errors"])
        elif action["submitted"] or action["cancelled"] or action["retired"]:
            self.error = None
        self.last_action = action
        log.info("adaptive: %s", action)

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
