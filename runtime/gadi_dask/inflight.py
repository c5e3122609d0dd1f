"""A qsub in flight, and what an intent whose qsub left no outcome means.

qsub runs in its own session under coreutils ``timeout``: whatever happens to the agent (a timeout, a kill -9),
its qsub is either finished or killed by its deadline, never left running for ever. Its unique job name is in its
argv, so the next agent on this host finds a qsub a dead agent left behind and waits for it (killing it past its
deadline) before deciding. An intent is refused only once no qsub of it can still land in PBS.
"""
import os
import signal
import socket
import subprocess
import time

from . import pbs
from .common import pid_alive

QSUB_TIMEOUT = 120
KILL_AFTER = 5  # timeout's -k: a qsub that ignores SIGTERM gets SIGKILL this much later
# A qsub killed at its deadline may have reached the server, which can still be queuing it: the intent stays open
# this long after the kill (or after its deadline, for an agent on another login node, whose processes are not seen).
LAND_GRACE = 60
TIMED_OUT = (124, 137)  # timeout's own exit statuses (SIGTERM sent; SIGKILL sent)


def deadline(now=None):
    """Until when a qsub started now can still land: its timeout, the kill, and the server's grace."""
    return (time.time() if now is None else now) + QSUB_TIMEOUT + KILL_AFTER + LAND_GRACE


def run_qsub(argv, cwd):
    """(rc, stdout, stderr, timed_out): one qsub in its own session; its whole group dies at the timeout."""
    started = time.monotonic()
    try:
        p = subprocess.Popen(["timeout", "-k", str(KILL_AFTER), str(QSUB_TIMEOUT)] + list(argv), cwd=cwd,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
    except FileNotFoundError:
        raise pbs.PbsError("timeout: command not found (coreutils' timeout bounds each qsub)")
    try:
        out, err = p.communicate(timeout=QSUB_TIMEOUT + KILL_AFTER + 10)
    except subprocess.TimeoutExpired:
        _kill_group(p.pid)
        out, err = p.communicate()
    out, err = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    if p.returncode == 127 and not out.strip():
        raise pbs.PbsError("%s: command not found (is PBS on PATH here?)" % argv[0])
    timed_out = p.returncode < 0 or (p.returncode in TIMED_OUT and time.monotonic() - started >= QSUB_TIMEOUT - 1)
    return p.returncode, out, err, timed_out


def _kill_group(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def qsub_processes(name):
    """The pids of this user's qsubs of this unique job name running on this host: their watchdogs, each a
    ``timeout`` leading its own process group (which holds the qsub). A process that merely inherited qsub's argv
    (a PBS client that forks) is not one."""
    found = []
    me = os.getuid()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    want = name.encode("utf-8")
    for entry in entries:
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        pid = int(entry)
        try:
            if os.stat("/proc/" + entry).st_uid != me:
                continue
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                args = f.read().split(b"\0")
            if want in args and os.path.basename(args[0]) == b"timeout" and os.getpgid(pid) == pid and pid_alive(pid):
                found.append(pid)
        except OSError:
            continue
    return found


def settle(name, intent, wait=True, poll=0.2):
    """Whether a qsub of this intent can still land in PBS: True (keep it open) or False (if PBS lacks the job now,
    it never will). On this host a qsub still running is waited for (``wait``), up to its deadline, then its
    group is killed; elsewhere only the deadline can tell."""
    until = float(intent.get("until") or 0)
    if intent.get("late"):
        return time.time() < until  # its qsub was killed at the timeout: the server may still be queuing it
    if intent.get("host") not in (None, socket.gethostname()):
        return time.time() < until
    running = qsub_processes(name)
    qsub_until = until - LAND_GRACE
    while running and wait and time.time() < qsub_until:
        time.sleep(poll)
        running = qsub_processes(name)
    if not running:
        return False
    if not wait:
        return True
    for pgid in running:
        _kill_group(pgid)
    return time.time() < until
