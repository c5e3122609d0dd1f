"""The cluster's history, ``history.jsonl``: what each of its PBS jobs asked for and used, kept after PBS and the
journal have forgotten the job, so the client can say what a run cost and what to ask for next time.

Fed by the qstat answer reconciling already fetched (no PBS call of its own): a ``sample`` record per job whenever
what PBS says about it changed (every snapshot of a running job, once more when it has finished), and a ``worker``
record when a Dask worker's memory, as the scheduler reports it, passes its highest so far. Appends are single
``write`` calls (O_APPEND), so a snapshot may record without the cluster's lock; compaction (temp file, fsync,
rename) runs only under it, and folds every finished job into one ``job`` line. A line that is not a record is
skipped with a warning.
"""
import json
import os
import re
import time

HISTORY_FILE = "history.jsonl"
# qstat attributes worth keeping: the request, the use, where and when, and how it ended. Not mtime: it changes
# on every poll and says nothing.
KEPT = ("Job_Name", "job_state", "queue", "Resource_List", "resources_used", "ctime", "qtime", "stime", "obittime",
        "Exit_status", "exec_host", "project")
DONE = set("FX")
# Compact once finished jobs hold this many lines more than the one each keeps; keep at most MAX_JOBS jobs.
SLACK_LINES = 200
MAX_JOBS = 2000
_SIZE = re.compile(r"^\s*(\d+)\s*([kmgtp]?)(b|w)?\s*$", re.I)


def size_bytes(value):
    """A PBS size (``218656kb``) in bytes, to compare samples only; the client does the figures."""
    m = _SIZE.match(str(value or ""))
    if not m:
        return None
    power = " kmgtp".index(m.group(2).lower() or " ")
    return int(m.group(1)) * 1024 ** power * (8 if (m.group(3) or "").lower() == "w" else 1)


def _larger(a, b):
    """The larger of two PBS sizes as printed (either may be missing or unreadable)."""
    if size_bytes(b) is None:
        return a
    if size_bytes(a) is None or size_bytes(b) > size_bytes(a):
        return b
    return a


class Entry(object):
    """One job as the history knows it: the newest attributes, peaks over every sample, worker peaks."""

    __slots__ = ("id", "role", "attrs", "peak", "workers", "first", "last", "samples", "lines")

    def __init__(self, job_id, role):
        self.id = job_id
        self.role = role
        self.attrs = {}
        self.peak = {}
        self.workers = {}
        self.first = None
        self.last = None
        self.samples = 0
        self.lines = 0

    def finished(self):
        return self.attrs.get("job_state") in DONE

    def take(self, attrs, at, samples=1):
        self.attrs = attrs
        used = attrs.get("resources_used") or {}
        for key in ("mem", "vmem"):
            if key in used:
                self.peak[key] = _larger(self.peak.get(key), used[key])
        self.first = at if self.first is None else min(self.first, at)
        self.last = at if self.last is None else max(self.last, at)
        self.samples += samples

    def to_doc(self):
        return {"id": self.id, "role": self.role, "attrs": self.attrs, "peak": self.peak, "workers": self.workers,
                "firstSeen": self.first, "lastSeen": self.last, "samples": self.samples}


class History(object):
    def __init__(self, cdir):
        self.path = os.path.join(cdir, HISTORY_FILE)
        self.jobs = {}
        self.lines = 0
        self.warnings = []
        self._load()

    def _load(self):
        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return
        except OSError as e:
            self.warnings.append("history unreadable: %s" % e)
            return
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                self._apply(json.loads(line))
                self.lines += 1
            except (ValueError, KeyError, TypeError, AttributeError):
                self.warnings.append("history line %d is not a record and was skipped" % n)

    def _entry(self, job_id, role):
        e = self.jobs.get(job_id)
        if e is None:
            e = self.jobs[job_id] = Entry(str(job_id), str(role))
        return e

    def _apply(self, rec):
        op = rec["op"]
        if op in ("sample", "job"):
            if not isinstance(rec["attrs"], dict):
                raise TypeError("attrs")
            e = self._entry(rec["id"], rec["role"])
            e.take(rec["attrs"], float(rec["at"]), int(rec.get("samples", 1)))
            if op == "job":
                e.first = float(rec.get("firstSeen", rec["at"]))
                for key, value in (rec.get("peak") or {}).items():
                    e.peak[key] = _larger(e.peak.get(key), value)
                e.workers.update(dict((str(k), int(v)) for k, v in (rec.get("workers") or {}).items()))
            e.lines += 1
        elif op == "worker":
            e = self._entry(rec["id"], rec.get("role", "worker"))
            e.workers[str(rec["worker"])] = max(int(rec["peak"]), e.workers.get(str(rec["worker"]), 0))
            e.lines += 1
        else:
            raise KeyError(op)

    def _append(self, rec):
        line = json.dumps(rec, sort_keys=True, separators=(",", ":")) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)
        self._apply(rec)
        self.lines += 1

    # ---- recording ----------------------------------------------------------------------------------------------

    def observe(self, roles, pbs_jobs, status=None, now=None):
        """Records what changed. ``roles``: {job id: role} of the cluster's jobs; ``pbs_jobs``: qstat's attributes
        by id (the reconcile's); ``status``: the status probe's document, whose workers carry their memory."""
        now = round(time.time() if now is None else now, 3)
        for job_id, role in roles.items():
            attrs = pbs_jobs.get(job_id)
            if not isinstance(attrs, dict):
                continue
            kept = dict((k, attrs[k]) for k in KEPT if k in attrs)
            e = self.jobs.get(job_id)
            if e is not None and e.attrs == kept:
                continue  # nothing new: a finished job is recorded once
            self._append({"op": "sample", "at": now, "id": job_id, "role": role, "attrs": kept})
        workers = (status or {}).get("workers") if isinstance(status, dict) and status.get("ok") else None
        for w in workers or []:
            job_id, name = w.get("pbsJobId"), w.get("name")
            used = (w.get("memory") or {}).get("used")
            if job_id not in roles or not name or not isinstance(used, (int, float)):
                continue
            e = self.jobs.get(job_id)
            if e is not None and e.workers.get(name, -1) >= used:
                continue
            self._append({"op": "worker", "at": now, "id": job_id, "role": roles[job_id], "worker": name,
                          "peak": int(used)})

    def compact(self, force=False):
        """Under the cluster's lock: every finished job becomes one line; the oldest jobs past MAX_JOBS go."""
        spare = sum(e.lines - 1 for e in self.jobs.values() if e.finished())
        if not force and spare < SLACK_LINES and len(self.jobs) <= MAX_JOBS:
            return False
        keep = sorted(self.jobs.values(), key=lambda e: e.first or 0)[-MAX_JOBS:]
        tmp = "%s.tmp-%d" % (self.path, os.getpid())
        lines = []
        for e in keep:
            if e.finished():
                lines.append(dict(e.to_doc(), op="job", at=e.last))
                continue
            # A live job keeps its newest sample: the peaks of the ones before it go with the one line.
            lines.append({"op": "job", "at": e.last, "id": e.id, "role": e.role, "attrs": e.attrs, "peak": e.peak,
                          "workers": e.workers, "firstSeen": e.first, "samples": e.samples})
        with open(tmp, "w", encoding="utf-8") as f:
            for rec in lines:
                f.write(json.dumps(rec, sort_keys=True, separators=(",", ":")) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self.jobs, self.lines = {}, 0
        for rec in lines:
            self._apply(rec)
            self.lines += 1
        return True

    def to_docs(self):
        return [e.to_doc() for e in sorted(self.jobs.values(), key=lambda e: e.first or 0)]
