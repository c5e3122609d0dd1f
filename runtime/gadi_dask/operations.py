"""The agent's operations by name; each family lives in its own module (op_*.py). Each changes a cluster only
under its lock, after reconciling with PBS, and records every qsub and qdel in the journal before it answers.
Answers are plain dicts (the agent frames them); their shape is the protocol's (src/core/cluster/protocol.ts)."""
import sys

from . import __version__
from .op_apply import op_apply
from .op_common import Refusal
from .op_down import op_cancel, op_down
from .op_history import op_discover, op_history
from .op_observe import op_probe, op_snapshot, op_workers
from .op_kernel import op_kernel
from .op_run import op_run
from .op_user import op_qdel, op_user_jobs


def op_hello(args, progress, agent):
    return {"ok": True, "runtimeVersion": __version__, "python": sys.executable,
            "pythonVersion": sys.version.split()[0]}


OPERATIONS = {
    "hello": op_hello, "apply": op_apply, "snapshot": op_snapshot, "down": op_down, "cancel": op_cancel,
    "probe": op_probe, "discover": op_discover, "user-jobs": op_user_jobs, "history": op_history, "qdel": op_qdel,
    "workers": op_workers, "run": op_run, "kernel": op_kernel,
}


def run(op, args, progress, agent):
    try:
        return OPERATIONS[op](args, progress, agent)
    except Refusal as r:
        return r.doc
