"""The cluster's journal, ``journal.jsonl``: what the agent is about to do and did to PBS, one JSON record a line.

Every record is flushed and fsync'd before the agent says anything on its channel, so a dropped link or a killed
agent can lose an answer but never a job: an ``intent`` (the unique job name) precedes each qsub, a ``submitted``
(the id) follows it, and reconciling against PBS settles the rest. Written only under the cluster's lock.

A write is whole or absent: a short write or a full disk truncates the file back to where the record began and
raises JournalWriteError, and a torn tail (a power cut mid-write) is cut off before the next append, so one bad write
never takes the next record with it.
"""
import errno
import json
import os
import socket
import time

JOURNAL_FILE = "journal.jsonl"
LEGACY_JOBS_FILE = "jobs"  # `<id> <role> <epoch>` lines, written by gadi-dask before the journal
# Forget jobs that ended this long ago (compaction keeps the journal short).
KEEP_FINISHED_SECONDS = 86400
# What an intent says about its qsub: where and by whom it runs, and until when it may still land.
INTENT_FIELDS = ("role", "at", "host", "pid", "until", "late")


class JournalWriteError(Exception):
    """A record could not be made durable (full or read-only home, quota, I/O error); ``rec`` is the lost record."""

    def __init__(self, path, cause, rec):
        Exception.__init__(self, "%s could not be written (%s)" % (path, getattr(cause, "strerror", None) or cause))
        self.cause = cause
        self.rec = rec


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
        self.intents = {}  # unique job name -> {"role", "at", "host", "pid", "until"}
        self.warnings = []
        # When set, a record that cannot be written is kept in memory with a warning instead of raising (down goes
        # on cancelling what the journal lists: PBS will say the jobs ended, so nothing is lost by not recording it).
        self.keep_going = False
        self.unwritten = []
        self._tail_checked = False
        self._load()

    # ---- reading ----------------------------------------------------------------------------------------------

    def _load(self):
        try:
            # Undecodable bytes (a hand edit, an older agent's raw PBS text) must not stop every command.
            with open(self.path, encoding="utf-8", errors="replace") as f:
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
            with open(os.path.join(self.cdir, LEGACY_JOBS_FILE), encoding="utf-8", errors="replace") as f:
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
            self.intents[rec["name"]] = dict((k, rec.get(k)) for k in INTENT_FIELDS)
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
        """Append one record and make it durable before returning; raises JournalWriteError when it cannot be
        (unless ``keep_going``), leaving the file as it was."""
        rec = dict(fields, op=op, at=fields.get("at") or round(time.time(), 3))
        line = json.dumps(rec, sort_keys=True, separators=(",", ":")) + "\n"
        try:
            self._append(line.encode("utf-8"))
        except OSError as e:
            error = JournalWriteError(self.path, e, rec)
            if not self.keep_going:
                raise error
            if not self.unwritten:
                self.warnings.append("%s: what follows was done but not recorded" % error)
            self.unwritten.append(rec)
        self._apply(rec)
        return rec

    def intent(self, name, role, until, late=False):
        """The record before a qsub: where its process runs (host, the agent's pid) and until when it may land;
        ``late`` again once its qsub was killed at the timeout (the server may still be queuing it)."""
        fields = dict(name=name, role=role, host=socket.gethostname(), pid=os.getpid(), until=round(until, 3))
        return self.record("intent", late=True, **fields) if late else self.record("intent", **fields)

    def pending(self, role):
        """Intents of this role whose qsub may still land (reconciling left them open)."""
        return [n for n, i in self.intents.items() if i["role"] == role]

    def _append(self, data):
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            end = self._repair_tail(fd)
            try:
                done = 0
                while done < len(data):
                    n = os.write(fd, data[done:])
                    if n <= 0:
                        raise OSError(errno.ENOSPC, "short write (%d of %d bytes)" % (done, len(data)))
                    done += n
                os.fsync(fd)
            except OSError:
                try:
                    os.ftruncate(fd, end)  # never leave half a record for the next one to be appended to
                except OSError:
                    pass  # the next append repairs the tail
                raise
        finally:
            os.close(fd)

    def _repair_tail(self, fd):
        """Cuts a torn last line (no newline) off before the first append; returns where the next record begins."""
        end = os.fstat(fd).st_size
        if self._tail_checked or end == 0:
            self._tail_checked = True
            return end
        cut = end
        while cut > 0:
            start = max(0, cut - 4096)
            chunk = os.pread(fd, cut - start, start)
            if cut == end and chunk.endswith(b"\n"):
                break  # whole
            nl = chunk.rfind(b"\n")
            if nl >= 0:
                cut = start + nl + 1
                break
            cut = start
        if cut != end:
            os.ftruncate(fd, cut)
            self.warnings.append("journal: a torn last record (%d bytes) was cut off" % (end - cut))
        self._tail_checked = True
        return cut

    def apply_only(self, op, **fields):
        """What record() does to the replayed state, without writing (a reader that does not hold the lock)."""
        rec = dict(fields, op=op, at=fields.get("at") or round(time.time(), 3))
        self._apply(rec)
        return rec

    def compact(self, now=None):
        """Rewrite without jobs that ended long ago; atomically (temp file, fsync, rename). A full or read-only home
        leaves the journal as it was (with a warning): compaction only saves space."""
        now = time.time() if now is None else now
        keep = [j for j in self.jobs.values()
                if not (j.finished and now - j.finished > KEEP_FINISHED_SECONDS)]
        if len(keep) == len(self.jobs) and os.path.exists(self.path):
            return False
        tmp = "%s.tmp-%d" % (self.path, os.getpid())
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                for name, intent in self.intents.items():
                    f.write(json.dumps(dict(intent, op="intent", name=name), sort_keys=True) + "\n")
                for j in keep:
                    f.write(json.dumps({"op": "adopted" if j.adopted else "submitted", "id": j.id, "role": j.role,
                                        "name": j.name, "at": j.submitted or now}, sort_keys=True) + "\n")
                    for op in ("cancelled", "finished"):
                        if getattr(j, op):
                            f.write(json.dumps({"op": op, "id": j.id, "at": getattr(j, op)}, sort_keys=True) + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as e:
            try:
                os.remove(tmp)
            except OSError:
                pass
            self.warnings.append("the journal was not compacted: %s" % e)
            return False
        self.jobs = dict((j.id, j) for j in keep)
        return True

    # ---- views ------------------------------------------------------------------------------------------------

    def live(self, role=None):
        """Jobs not known to have finished, in submission order."""
        return [j for j in self.jobs.values() if not j.finished and (role is None or j.role == role)]
