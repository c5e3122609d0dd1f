"""The process table: a job's processes, what they use (resources_used), and killing them."""

import os
import signal

from .resources import job_ncpus
from .values import fmt_hms


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
    if fields is None or fields[0] == "Z":
        return False
    return fields[19] == unit.get("sup_start")


def proc_sessions():
    """{session id: [fields]} for every process visible in /proc."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fields = proc_stat(int(name))
        if fields is None:
            continue
        out.setdefault(int(fields[3]), []).append((int(name), fields))
    return out


def kill_session(sid, sig=signal.SIGKILL):
    if not sid:
        return
    try:
        os.killpg(sid, sig)
    except OSError:
        pass
    for pid, _fields in proc_sessions().get(sid, []):
        if pid != os.getpid():
            try:
                os.kill(pid, sig)
            except OSError:
                pass


def usage_now(job, unit, now, sessions=None):
    """resources_used for a running unit, read from its session's processes."""
    walltime = now - unit.get("stime", now)
    cpu, rss, vsz = 0.0, 0, 0
    sid = unit.get("session_id")
    if sid and unit["state"] in ("R", "E"):
        tick = os.sysconf("SC_CLK_TCK")
        page = os.sysconf("SC_PAGE_SIZE")
        for pid, fields in (sessions if sessions is not None else proc_sessions()).get(sid, []):
            cpu += (int(fields[11]) + int(fields[12])) / tick
            if pid == sid:
                cpu += (int(fields[13]) + int(fields[14])) / tick
            vsz += int(fields[20])
            rss += int(fields[21]) * page
    return {
        "cpupercent": str(int(cpu * 100 / walltime) if walltime > 0 else 0),
        "cput": fmt_hms(cpu),
        "mem": "%dkb" % (rss // 1024),
        "ncpus": str(job_ncpus(job)),
        "vmem": "%dkb" % (vsz // 1024),
        "walltime": fmt_hms(walltime),
    }
