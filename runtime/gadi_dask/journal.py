"""The cluster's journal, ``journal.jsonl``: what the agent is about to do and did to PBS, one JSON record a line.

Every record is flushed and fsync'd before the agent says anything on its channel, so a dropped link or a killed
agent can lose an answer but never a job: an ``intent`` (the unique job name) precedes each qsub, a ``submitted``
(the id) follows it, and reconciling against PBS settles the rest. Written only under the cluster's lock.
"""
import json
import os
import time

JOURNAL_FILE = "journal.jsonl"
LEGACY_JOBS_FILE = "jobs"  # `<id> <role> <epoch>` lines, written by gadi-dask before the journal
# Forget jobs that ended this long ago (compaction keeps the journal short).
KEEP_FINISHED_SECONDS = 86400


class Job(object):
    __slots__ = ("id", "role", "name", "submitted", "finished", "cancelled", "adopted")

    def __init__(self, job_id, role, name=None, submitted=None):
        self.id = job_id
        self.role = role
        self.name = name
        self.submitted = submitted
        self.finished = None
        self.cancelled = None
        self.adopted = False

    def to_doc(self):
        return {"id": self.id, "role": self.role, "name": self.name, "submitted": self.submitted,
                "finished": self.finished, "cancelled": self.cancelled, "adopted": self.adopted}


class Journal(object):
    """The replayed journal: jobs by id (in submission order) and intents whose qsub has no recorded outcome."""

    def __init__(self, cdir):
        self.path = os.path.join(cdir, JOURNAL_FILE)
        self.cdir = cdir
        self.jobs = {}
        self.intents = {}  # unique job name -> {"role", "at"}
        self.warnings = []
        self._load()

    # ---- reading ----------------------------------------------------------------------------------------------

    def _load(self):
        try:
            with open(self.path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            self._import_legacy()
            return
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                self._apply(rec)
            except (ValueError, KeyError, TypeError, AttributeError):
                # A torn last line (power cut mid-write) or a hand edit: the rest of the journal still counts.
                self.warnings.append("journal line %d is not a record and was skipped" % n)

    def _import_legacy(self):
        try:
            with open(os.path.join(self.cdir, LEGACY_JOBS_FILE), encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError:
            return
        for line in lines:
            parts = line.split()
            if len(parts) >= 2 and parts[1] in ("scheduler", "worker"):
                when = float(parts[2]) if len(parts) > 2 and parts[2].isdigit() else None
                self.jobs.setdefault(parts[0], Job(parts[0], parts[1], submitted=when))

    def _apply(self, rec):
        op = rec["op"]
        if op == "intent":
            self.intents[rec["name"]] = {"role": rec["role"], "at": rec["at"]}
        elif op in ("submitted", "adopted"):
            self.intents.pop(rec.get("name"), None)
            job = self.jobs.get(rec["id"]) or Job(rec["id"], rec["role"], rec.get("name"), rec.get("at"))
            job.adopted = job.adopted or op == "adopted"
            self.jobs[rec["id"]] = job
        elif op == "refused":
            self.intents.pop(rec["name"], None)
        elif op == "cancelled" and rec["id"] in self.jobs:
            self.jobs[rec["id"]].cancelled = rec["at"]
        elif op == "finished" and rec["id"] in self.jobs:
            self.jobs[rec["id"]].finished = rec["at"]
        elif op == "forgotten":
            self.jobs.pop(rec["id"], None)

    # ---- writing ----------------------------------------------------------------------------------------------

    def record(self, op, **fields):
        """Append one record and make it durable before returning."""
        rec = dict(fields, op=op, at=fields.get("at") or round(time.time(), 3))
        line = json.dumps(rec, sort_keys=True, separators=(",", ":")) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        self._apply(rec)
        return rec

    def apply_only(self, op, **fields):
        """What record() does to the replayed state, without writing (a reader that does not hold the lock)."""
        rec = dict(fields, op=op, at=fields.get("at") or round(time.time(), 3))
        self._apply(rec)
        return rec

    def compact(self, now=None):
        """Rewrite without jobs that ended long ago; atomically (temp file, fsync, rename)."""
        now = time.time() if now is None else now
        keep = [j for j in self.jobs.values()
                if not (j.finished and now - j.finished > KEEP_FINISHED_SECONDS)]
        if len(keep) == len(self.jobs) and os.path.exists(self.path):
            return False
        tmp = "%s.tmp-%d" % (self.path, os.getpid())
        with open(tmp, "w", encoding="utf-8") as f:
            for name, intent in self.intents.items():
                f.write(json.dumps({"op": "intent", "name": name, "role": intent["role"], "at": intent["at"]},
                                   sort_keys=True) + "\n")
            for j in keep:
                f.write(json.dumps({"op": "adopted" if j.adopted else "submitted", "id": j.id, "role": j.role,
                                    "name": j.name, "at": j.submitted or now}, sort_keys=True) + "\n")
                for op in ("cancelled", "finished"):
                    if getattr(j, op):
                        f.write(json.dumps({"op": op, "id": j.id, "at": getattr(j, op)}, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self.jobs = dict((j.id, j) for j in keep)
        return True

    # ---- views ------------------------------------------------------------------------------------------------

    def live(self, role=None):
        """Jobs not known to have finished, in submission order."""
        return [j for j in self.jobs.values() if not j.finished and (role is None or j.role == role)]
