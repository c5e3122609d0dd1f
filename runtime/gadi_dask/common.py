"""Shared pieces: output markers, cluster paths, atomic JSON files, PBS job ids in worker names.

Nothing here imports ``distributed``: the status probe's fast path must start in a few tens of milliseconds.
"""
import argparse
import datetime
import json
import os
import re
import selectors
import shlex
import socket
import subprocess
import sys
import threading
import time

from .protocol import CLUSTER_NAME

BEGIN = "@@GADI_DASK_BEGIN@@"
END = "@@GADI_DASK_END@@"

# Files in ~/.gadi-dask/clusters/<name>/ (the README lists who writes each).
SCHEDULER_FILE = "scheduler.json"
METADATA_FILE = "runtime.json"
ADAPT_REQUEST_FILE = "adapt.json"
ADAPT_STATE_FILE = "adapt-state.json"
ADAPT_CANCELLED_FILE = "adapt-cancelled"
LOG_FILE = "scheduler.log"
# The cluster's TLS certificate (its own CA) and key (names shared with src/core/cluster/names.ts).
TLS_CERT_FILE = "tls-cert.pem"
TLS_KEY_FILE = "tls-key.pem"


_emit_lock = threading.Lock()
_emitted = False


def emit(doc):
    """Print the one JSON document of this command between the markers; later calls are ignored.

    The watchdog of the status probe may race the normal path, so only the first document wins.
    """
    global _emitted
    with _emit_lock:
        if _emitted:
            return False
        _emitted = True
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
        sys.stdout.write("\n%s\n%s\n%s\n" % (BEGIN, text, END))
        sys.stdout.flush()
        return True


def root_dir():
    return os.path.join(os.path.expanduser("~"), ".gadi-dask")


def cluster_dir(name):
    return os.path.join(root_dir(), "clusters", name)


def check_name(name):
    if not CLUSTER_NAME.match(name or ""):
        raise UsageError(
            "invalid cluster name %r: use letters, digits, '.', '_' and '-' (at most 64, not starting with a "
            "punctuation mark)" % (name,)
        )
    return name


def now_iso(t=None):
    t = time.time() if t is None else t
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(timespec="seconds").replace(
        "+00:00", "Z"
    )


def read_json(path):
    """The parsed file, or None when it is missing or not (yet) valid JSON."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_json_atomic(path, doc):
    # Readers on other nodes must never see half a file: write a sibling, then rename over.
    tmp = "%s.tmp-%d-%d" % (path, os.getpid(), threading.get_ident())
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, sort_keys=True, default=str)
        f.write("\n")
    os.replace(tmp, path)


# What the agent reads from one command (stdout and stderr together): far above any qstat of a user's jobs, and
# small enough that an answer carrying it stays below the client's transport bound and the agent's memory modest.
OUTPUT_LIMIT = 32 * 2 ** 20


class CommandTimeout(Exception):
    def __init__(self, stdout):
        Exception.__init__(self)
        self.stdout = stdout


class OutputTooLarge(Exception):
    pass


def run_bounded(argv, timeout, cwd=None, limit=OUTPUT_LIMIT, stdin_text=None):
    """(exit status, stdout, stderr) of a command, read as it prints and decoded with replacement (what PBS and
    users print is bytes). Past `limit` bytes or `timeout` seconds the command is killed: OutputTooLarge or
    CommandTimeout (with what it printed). A command that cannot start raises OSError. `stdin_text`, when given,
    is its standard input (written at once: a few lines, well below a pipe's buffer)."""
    stdin = subprocess.DEVNULL if stdin_text is None else subprocess.PIPE
    p = subprocess.Popen(argv, cwd=cwd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if stdin_text is not None:
        try:
            p.stdin.write(stdin_text.encode("utf-8"))
            p.stdin.close()
        except BrokenPipeError:
            pass  # it exited without reading: its output says why
    chunks = {p.stdout: [], p.stderr: []}
    total = 0
    deadline = time.monotonic() + timeout
    overflow = timed_out = False
    with selectors.DefaultSelector() as sel:
        for f in chunks:
            sel.register(f, selectors.EVENT_READ)
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            for key, _ in sel.select(left):
                data = os.read(key.fd, 65536)
                if not data:
                    sel.unregister(key.fileobj)
                    continue
                total += len(data)
                if total > limit:
                    overflow = True
                    break
                chunks[key.fileobj].append(data)
            if overflow:
                break
    if overflow or timed_out:
        p.kill()
    p.stdout.close()
    p.stderr.close()
    try:
        rc = p.wait(max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
        timed_out = True
    if overflow:
        raise OutputTooLarge()
    out, err = (b"".join(chunks[f]).decode("utf-8", "replace") for f in (p.stdout, p.stderr))
    if timed_out:
        raise CommandTimeout(out)
    return rc, out, err


def forward_signals(child, signals):
    """The signals PBS sends a job's shell (a qdel's SIGTERM, a walltime's) passed on to the program it runs."""
    import signal

    def forward(signum, _frame):
        try:
            child.send_signal(signum)
        except OSError:
            pass

    for s in signals:
        signal.signal(s, forward)


def exit_status(child):
    """A child process's end as a shell reports it: its exit code, or 128 + the signal that ended it."""
    while True:
        try:
            code = child.wait()
            break
        except InterruptedError:  # a signal handler of ours ran meanwhile
            continue
    return 128 - code if code < 0 else code


def shell_join(argv):
    """The one way a command line for a remote shell (ssh's) is made here: each word quoted, nothing raw."""
    return " ".join(shlex.quote(str(a)) for a in argv)


def remove_file(path):
    try:
        os.remove(path)
        return True
    except FileNotFoundError:
        return False


# A PBS Pro job id: sequence number, optional array index ("45[2]", "6[]"), then ".server" (a host name).
JOB_ID_IN_NAME = re.compile(r"(?:^|-)(\d+(?:\[\d*\])?\.[A-Za-z][A-Za-z0-9_.-]*?)(?:-(\d+))?$")


def parse_worker_name(name):
    """Split ``<job-name>-<PBS job id>[-<n>]`` into its parts; all None when no job id is in the name.

    ``dask worker --nworkers N`` appends ``-<i>`` to the name, so a trailing number after the server name is
    read as the process index (a server name that itself ends in ``-<digits>`` is therefore ambiguous).
    """
    text = str(name)
    m = JOB_ID_IN_NAME.search(text)
    if not m:
        return {"pbsJobId": None, "jobName": None, "index": None}
    job_name = text[: m.start()] if m.start() > 0 else None
    index = int(m.group(2)) if m.group(2) is not None else None
    return {"pbsJobId": m.group(1), "jobName": job_name, "index": index}


def split_address(address):
    """('tcp', host, port) from 'tcp://host:port' or 'tls://[::1]:port'; None when not host:port shaped."""
    m = re.match(r"^(?:([a-z0-9+]+)://)?\[?([^\[\]]*?)\]?:(\d+)$", str(address or ""))
    if not m:
        return None
    return (m.group(1) or "tcp", m.group(2), int(m.group(3)))


def tcp_connect(address, timeout):
    """"open" when something accepts a connection at the address, "refused" when its host says nothing listens
    there, None when neither is known (no answer in time, no route, not host:port shaped)."""
    parts = split_address(address)
    if not parts:
        return None
    try:
        with socket.create_connection((parts[1], parts[2]), timeout=timeout):
            return "open"
    except ConnectionRefusedError:
        return "refused"
    except OSError:
        return None


def tcp_reachable(address, timeout):
    return tcp_connect(address, timeout) == "open"


def pid_alive(pid):
    """Running and not a zombie (a detached launcher's parent may never reap it)."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    except (TypeError, ValueError, OSError):
        return False
    try:
        with open("/proc/%d/stat" % int(pid)) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc: the signal test is all we have


def is_our_process(pid):
    """True when pid is alive on this host and is a gadi_dask scheduler (guards against a recycled pid)."""
    if not pid_alive(pid):
        return False
    try:
        with open("/proc/%d/cmdline" % int(pid), "rb") as f:
            cmd = f.read().replace(b"\0", b" ")
    except OSError:
        return True  # no /proc: trust the pid
    return b"scheduler" in cmd and (b"gadi_dask" in cmd or b"run.py" in cmd)


class Beside(threading.Thread):
    """Runs ``call`` in a thread at once; ``result()`` returns what it returned or raises what it raised, and
    raises ``TimeoutError`` when it is still running after ``timeout`` seconds (None: wait for it)."""

    def __init__(self, call):
        threading.Thread.__init__(self, daemon=True)
        self.call, self.value, self.error = call, None, None
        self.start()

    def run(self):
        try:
            self.value = self.call()
        except BaseException as e:  # handed to the caller
            self.error = e

    def result(self, timeout=None):
        self.join(timeout)
        if self.is_alive():
            raise TimeoutError("still running after %gs" % timeout)
        if self.error is not None:
            raise self.error
        return self.value


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as a JSON document instead of exiting with text only."""

    def error(self, message):
        raise UsageError("%s: %s" % (self.prog, message))


def run_main(fn, argv, usage_exit=2):
    """Call ``fn(argv)``; turn usage errors and crashes into a JSON document so the caller can always parse."""
    try:
        return fn(argv)
    except UsageError as e:
        emit({"ok": False, "code": "usage", "error": str(e)})
        return usage_exit
    except KeyboardInterrupt:
        emit({"ok": False, "code": "interrupted", "error": "interrupted"})
        return 130
    except Exception as e:  # the caller needs a document even for a bug
        import traceback

        traceback.print_exc()
        emit({"ok": False, "code": "internal", "error": "%s: %s" % (type(e).__name__, e)})
        return 1
