"""The server's state directory: one JSON file per job and a sequence counter, under one exclusive flock."""

import fcntl
import json
import os

from .common import Exit
from .ids import unit_id

SPOOL = "spool"


def spool_path(cfg, job, unit, suffix):
    """A running unit's file in the spool: .OU/.ER streams, .NF node file, .RU usage record."""
    return os.path.join(cfg.home, SPOOL, unit_id(cfg, job, unit) + suffix)


class Store:
    """The server's state: one JSON file per job and a sequence counter, all changed under one exclusive flock."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.root = cfg.home
        self.jobs_dir = os.path.join(self.root, "jobs")
        self.spool_dir = os.path.join(self.root, SPOOL)
        self.jobfs_dir = os.path.join(self.root, "jobfs")
        for d in (self.root, self.jobs_dir, self.spool_dir, self.jobfs_dir):
            os.makedirs(d, mode=0o700, exist_ok=True)
        self.lock_fd = None
        self.jobs = {}
        self.dirty = set()
        self.removed = set()

    def __enter__(self):
        self.lock_fd = os.open(os.path.join(self.root, "lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.lock_fd, fcntl.LOCK_EX)
        self.jobs = {}
        for name in os.listdir(self.jobs_dir):
            if not name.endswith(".json"):
                continue
            try:
                with open(os.path.join(self.jobs_dir, name)) as f:
                    job = json.load(f)
                self.jobs[int(job["seq"])] = job
            except (OSError, ValueError, KeyError):
                continue
        self._server = self._read_server()
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None or issubclass(exc_type, Exit):
                self.flush()
        finally:
            fcntl.flock(self.lock_fd, fcntl.LOCK_UN)
            os.close(self.lock_fd)
            self.lock_fd = None
        return False

    def flush(self):
        for seq in sorted(self.dirty):
            if seq in self.jobs:
                path = os.path.join(self.jobs_dir, "%d.json" % seq)
                tmp = path + ".tmp"
                with open(tmp, "w") as f:
                    json.dump(self.jobs[seq], f)
                os.replace(tmp, path)
        for seq in self.removed:
            for suffix in (".json", ".SC"):
                try:
                    os.unlink(os.path.join(self.jobs_dir, "%d%s" % (seq, suffix)))
                except FileNotFoundError:
                    pass
        self.dirty.clear()
        self.removed.clear()

    def touch(self, job):
        self.dirty.add(job["seq"])

    def remove(self, job):
        self.jobs.pop(job["seq"], None)
        self.dirty.discard(job["seq"])
        self.removed.add(job["seq"])

    def _read_server(self):
        path = os.path.join(self.root, "server.json")
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError):
            data = {}
        # A capacity given once in the environment holds for every later command, whatever its environment.
        if self.cfg.node_ncpus is not None and data.get("node_ncpus") != self.cfg.node_ncpus:
            data["node_ncpus"] = self.cfg.node_ncpus
            self._write_server(data)
        return data

    def _write_server(self, data):
        path = os.path.join(self.root, "server.json")
        with open(path + ".tmp", "w") as f:
            json.dump(data, f)
        os.replace(path + ".tmp", path)

    @property
    def node_ncpus(self):
        return self._server.get("node_ncpus")

    def next_seq(self):
        path = os.path.join(self.root, "seq")
        try:
            with open(path) as f:
                last = int(f.read().strip())
            seq = last + 1
        except (OSError, ValueError):
            seq = self.cfg.first_seq
        while True:
            if seq > self.cfg.max_seq:
                seq = 0
            if seq not in self.jobs:
                break
            seq += 1
        with open(path + ".tmp", "w") as f:
            f.write(str(seq))
        os.replace(path + ".tmp", path)
        return seq

    def script_path(self, seq):
        return os.path.join(self.jobs_dir, "%d.SC" % seq)

    def ordered(self):
        return [self.jobs[s] for s in sorted(self.jobs)]


def units(job):
    """The parts of a job that run: the job itself, or its sub-jobs in index order."""
    if job.get("array"):
        return [job["subjobs"][str(i)] for i in job["array"]["indices"]]
    return [job]


def unit_key(job, unit):
    return [job["seq"], unit["index"] if job.get("array") else None]


def find_unit(store, key):
    job = store.jobs.get(key[0])
    if job is None:
        return None, None
    if key[1] is None:
        return (job, job) if not job.get("array") else (job, None)
    if not job.get("array"):
        return job, None
    return job, job["subjobs"].get(str(key[1]))


def find_unit_in(job, key):
    if key[1] is None:
        return job
    return job["subjobs"][str(key[1])]
