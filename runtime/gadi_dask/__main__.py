"""``python -m gadi_dask <command> [args]`` (with the runtime directory on PYTHONPATH)."""
import importlib
import sys

from .common import UsageError, run_main

COMMANDS = {
    "agent": "agent",  # serve the extension's requests (bootstrap.sh starts it)
    "scheduler": "scheduler",  # start the scheduler launcher
    "status": "status",  # one JSON snapshot of a cluster
    "list": "status",  # the clusters under ~/.gadi-dask/clusters, from their files only
    "shutdown": "shutdown",  # retire workers, stop the scheduler, clean state, list the PBS jobs
    "hash": "hashing",  # the content hash of a runtime tree (same algorithm as install.sh)
    "env": "status",  # this runtime's version and whether this python can import dask/distributed
    "retire": "retire",  # scale down: retire the workers of the least busy running jobs, then qdel them
    "run-file": "runfile",
    "kernel-server": "kernel",  # inside the kernel's PBS job (or on the login node): a Jupyter server next to the cluster  # inside a run's PBS job: the user's file as a client of the cluster, its exit status kept
}


def dispatch(argv):
    if not argv or argv[0] not in COMMANDS:
        raise UsageError("usage: run.py {%s} [options]" % ",".join(COMMANDS))
    module = importlib.import_module("gadi_dask." + COMMANDS[argv[0]])
    entry = getattr(module, "main_" + argv[0], None) or module.main
    return entry(argv[1:])


def main(argv=None):
    return run_main(dispatch, list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
