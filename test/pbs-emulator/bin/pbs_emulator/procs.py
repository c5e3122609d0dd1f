"""The process table: a job's processes, what they use (resources_used), and killing them.

A job's processes are its supervisor's descendants (the supervisor is their child subreaper, so orphans stay
below it) and whatever else is in the job's session. What a job used is measured as PBS's MOM does: cput is
utime + stime of its processes plus what they reaped (cutime + cstime), mem and vmem are the sums of their RSS and
VSZ. The supervisor samples them periodically and keeps the peaks in a usage file; qstat adds a reading of its own.
"""

import json
import os
import signal

from .resources import job_ncpus
from .values import fmt_hms

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
# Fields of /proc/<pid>/stat after the command name.
F_STATE, F_PPID, F_SESSION, F_UTIME, F_STIME, F_CUTIME, F_CSTIME, F_START, F_VSIZE, F_RSS = 0, 1, 3, 11, 12, 13, 14, 19, 20, 21


def proc_stat(pid):
    """(fields after the command name) of /proc/<pid>/stat, or None."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read().decode("ascii", "replace")
    except OSError:
        return None
    return data[data.rfind(")") + 2:].split()


def supervisor_alive(unit):
    pid = unit.get("sup_pid")
    if not pid:
        return None
    fields = proc_stat(pid)
    if fields is None or fields[F_STATE] == "Z":
        return False
    return fields[F_START] == unit.get("sup_start")


def proc_birth(pid):
    """An identity of the process that has `pid` now: its /proc directory's ctime, new with each process (pids are
    reused within seconds where pid_max is 32768 and tests start thousands of processes), or None."""
    try:
        return os.stat("/proc/%d" % pid).st_ctime_ns
    except OSError:
        return None


class ProcessTable:
    """One reading of /proc. Processes in `skip` ({pid: proc_birth}) are not read (known not to belong to the job being
    looked at); a pid reused by a new process is read."""

    def __init__(self, skip=None):
        skip = skip or {}
        self.stat = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            pid = int(name)
            if pid in skip and proc_birth(pid) == skip[pid]:
                continue
            fields = proc_stat(pid)
            if fields is not None:
                self.stat[pid] = fields
        self._children = None

    def session(self, sid):
        return [pid for pid, f in self.stat.items() if int(f[F_SESSION]) == sid]

    def job_members(self, sup_pid, sid):
        """The job's processes: below its supervisor or in its session, the supervisor itself excluded."""
        if self._children is None:
            self._children = {}
            for pid, f in self.stat.items():
                self._children.setdefault(int(f[F_PPID]), []).append(pid)
        found = set(self.session(sid)) if sid else set()
        todo = list(self._children.get(sup_pid, [])) if sup_pid else []
        while todo:
            pid = todo.pop()
            if pid not in found:
                found.add(pid)
                todo += self._children.get(pid, [])
        found.discard(sup_pid)
        return found

    def measure(self, pids):
        """(cpu seconds, rss bytes, vsz bytes) of these processes, the children they reaped included in cpu."""
        cpu, rss, vsz = 0, 0, 0
        for pid in pids:
            f = self.stat[pid]
            cpu += int(f[F_UTIME]) + int(f[F_STIME]) + int(f[F_CUTIME]) + int(f[F_CSTIME])
            vsz += int(f[F_VSIZE])
            rss += int(f[F_RSS]) * PAGE
        return cpu / TICK, rss, vsz


def kill_session(sid, sig=signal.SIGKILL, also=()):
    """Signals the session `sid` and the processes `also`, never the caller."""
    if not sid:
        return
    try:
        os.killpg(sid, sig)
    except OSError:
        pass
    for pid in set(ProcessTable().session(sid)) | set(also):
        if pid != os.getpid():
            try:
                os.kill(pid, sig)
            except OSError:
                pass


# A usage record, in the supervisor's usage file and in the job's state: peaks so far, in seconds and bytes.
EMPTY_USAGE = {"cpu": 0.0, "mem": 0, "vmem": 0, "reaped_cpu": 0.0}


def read_usage(path):
    try:
        with open(path) as f:
            return dict(EMPTY_USAGE, **json.load(f))
    except (OSError, ValueError, TypeError):
        return dict(EMPTY_USAGE)


def write_usage(path, usage):
    with open(path + ".tmp", "w") as f:
        json.dump(usage, f)
    os.replace(path + ".tmp", path)


def raise_usage(usage, table, members):
    """`usage` raised by what `members` use now (cpu counts what the supervisor reaped on top of theirs)."""
    cpu, rss, vsz = table.measure(members)
    return dict(usage, cpu=max(usage["cpu"], cpu + usage["reaped_cpu"]), mem=max(usage["mem"], rss),
                vmem=max(usage["vmem"], vsz))


class Sampler:
    """The supervisor's periodic reading of its job. Processes found not to be the job's are not read again until
    the next full pass: a process cannot become a descendant or a session member later."""

    FULL_PASS_SECONDS = 30

    def __init__(self, sup_pid, path):
        self.sup_pid, self.path = sup_pid, path
        self.sid = None
        self.usage = dict(EMPTY_USAGE)
        self.others = {}  # pid: proc_birth of processes that are not the job's
        self.full_at = 0
        self.members = set()

    def sample(self, now):
        if now >= self.full_at:
            self.others.clear()
            self.full_at = now + self.FULL_PASS_SECONDS
        table = ProcessTable(skip=self.others)
        self.members = table.job_members(self.sup_pid, self.sid)
        for pid in table.stat:
            if pid not in self.members and pid != self.sup_pid:
                self.others[pid] = proc_birth(pid)
        self.usage = raise_usage(self.usage, table, self.members)
        write_usage(self.path, self.usage)

    def reaped(self, rusage):
        self.usage["reaped_cpu"] += rusage.ru_utime + rusage.ru_stime


def running_usage(unit, path, table):
    """The usage of a running unit: its supervisor's record raised by a reading of `table`."""
    members = table.job_members(unit.get("sup_pid"), unit.get("session_id"))
    return raise_usage(read_usage(path), table, members)


def resources_used(job, usage, walltime):
    """resources_used as the server prints it."""
    return {
        "cpupercent": str(int(usage["cpu"] * 100 / walltime) if walltime > 0 else 0),
        "cput": fmt_hms(usage["cpu"]),
        "mem": "%dkb" % (usage["mem"] // 1024),
        "ncpus": str(job_ncpus(job)),
        "vmem": "%dkb" % (usage["vmem"] // 1024),
        "walltime": fmt_hms(walltime),
    }
