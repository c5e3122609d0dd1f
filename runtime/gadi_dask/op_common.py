"""What every agent operation shares: its refusal, the cluster's lock, a reconcile whose PBS failure is a refusal,
the runtime's own commands and the files the operations write in a cluster's directory."""
import json
import os
import sys

from . import pbs
from .common import BEGIN, END, OUTPUT_LIMIT, CommandTimeout, OutputTooLarge, cluster_dir, run_bounded
from .history import History
from .lock import ClusterLock, LockBusy, LockUnavailable
from .pbsjson import PbsOutputError
from .protocol import CLUSTER_NAME
from .reconcile import reconcile

RUNTIME_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN_PY = os.path.join(RUNTIME_DIR, "run.py")
WORKER_SCRIPT = "worker.pbs"
SCHEDULER_SCRIPT = "scheduler.pbs"
LAUNCH_FILE = "launch.json"
SCHEDULER_JOB_LOG = "scheduler-job.log"


class Refusal(Exception):
    """An answer with ok false: the operation stopped before changing anything it has not reported."""

    def __init__(self, code, error, **extra):
        Exception.__init__(self, error)
        self.doc = dict(extra, ok=False, code=code, error=error)


def _cluster(args):
    name = str(args.get("cluster", ""))
    if not CLUSTER_NAME.match(name):
        raise Refusal("bad-request", "%r is not a cluster name" % name)
    return name, cluster_dir(name)


def _write_atomic(path, text, mode=0o644):
    tmp = "%s.tmp-%d" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def runtime_command(args, timeout):
    """Runs one of this runtime's commands (run.py …) and returns (its document or None, rc, stdout, stderr)."""
    try:
        rc, out, err = run_bounded([sys.executable, RUN_PY] + list(args), timeout, cwd=os.path.expanduser("~"))
    except CommandTimeout as e:
        return None, None, e.stdout, "run.py %s did not finish within %ss" % (args[0], timeout)
    except OutputTooLarge:
        return None, None, "", "run.py %s printed more than %d MB and was stopped" % (args[0], OUTPUT_LIMIT // 2 ** 20)
    return _document(out), rc, out, err


def _document(text):
    begin = text.rfind(BEGIN + "\n")
    if begin < 0:
        return None
    end = text.find("\n" + END, begin)
    try:
        doc = json.loads(text[begin + len(BEGIN) + 1:end])
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _tail(path, lines=40):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


class Locked(object):
    """The cluster's lock around an operation; a busy lock is a refusal naming its owner."""

    def __init__(self, cdir, args, unlocked_ok=False):
        self.lock = ClusterLock(cdir, args.get("client", "gadi-dask"), float(args.get("lockTtl", 600)))
        self.wait = float(args.get("lockWait", 60))
        self.unlocked_ok = unlocked_ok  # down: a home nobody can write is one nobody else can change either
        self.unavailable = None

    def __enter__(self):
        try:
            self.lock.acquire(self.wait)
        except LockBusy as e:
            raise Refusal("locked", "the cluster is being changed by another client", owner=e.owner)
        except FileNotFoundError:
            raise Refusal("locked", "the cluster directory disappeared while waiting for its lock", owner="")
        except LockUnavailable as e:
            if not self.unlocked_ok:
                raise Refusal("home", "%s, so nothing was changed. Free space in the home directory (or ask for "
                              "more quota), or make it writable, then try again." % e)
            self.unavailable = str(e)
        return self

    def __exit__(self, *exc):
        self.lock.release()


def _roles(journal, view):
    roles = dict((i, "worker") for i in view.adaptive)
    roles.update((j.id, j.role) for j in journal.jobs.values())
    return roles


def _record_history(cdir, journal, view, status=None, compact=False):
    """What PBS (and the scheduler) said about the cluster's jobs into history.jsonl; never fails the operation.
    Compacts only when the caller holds the cluster's lock."""
    try:
        history = History(cdir)
        history.observe(_roles(journal, view), view.pbs, status)
        if compact:
            history.compact()
        return history.warnings
    except OSError as e:
        return ["the history was not recorded: %s" % e]


def _pbs_refusal(e):
    """PBS did not answer in its format, or not at all (`unreachable`: its server did not answer)."""
    if isinstance(e, pbs.PbsUnreachable):
        return Refusal("pbs", str(e), unreachable=True)
    return Refusal("pbs", str(e))


def _reconciled(journal, name, cdir, also=(), write=True, wait_for_qsub=True, list_jobs=True):
    try:
        return reconcile(journal, name, cdir, also, write, wait_for_qsub, list_jobs)
    except (PbsOutputError, pbs.PbsError) as e:
        raise _pbs_refusal(e)
