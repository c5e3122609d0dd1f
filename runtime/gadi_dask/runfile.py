"""``run.py run-file``: the user's Python file, run inside its PBS job (``gadi-dask run``, Run Python File on Cluster).

The job script has already sent its output to the run's ``output`` file (Gadi's own output file appears only when
the job ends) and exported the cluster's TLS settings for dask's config. This wrapper adds the scheduler's address
as it is when the job starts (a scheduler started again since the submission has a new one), runs the file with
this same Python in the run's directory, and leaves the file's exit status in ``status`` for the client that
follows the output; the job ends with the same status.
"""
import os
import signal
import subprocess
import sys

from .common import SCHEDULER_FILE, Parser, check_name, cluster_dir, exit_status, forward_signals, read_json

STATUS_FILE = "status"


def write_status(run_dir, code):
    path = os.path.join(run_dir, STATUS_FILE)
    tmp = "%s.tmp-%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("%d\n" % code)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main(argv):
    p = Parser(prog="run.py run-file", description="Run a Python file as a client of a cluster (inside a PBS job).")
    p.add_argument("--name", required=True, help="the cluster's name")
    p.add_argument("--dir", required=True, help="the run's directory (output, status)")
    p.add_argument("file")
    p.add_argument("args", nargs="*")
    args = p.parse_args(argv)
    name = check_name(args.name)
    sched = read_json(os.path.join(cluster_dir(name), SCHEDULER_FILE))
    address = sched.get("address") if isinstance(sched, dict) else None
    env = dict(os.environ)
    if address:
        env["DASK_SCHEDULER_ADDRESS"] = address
    else:
        sys.stderr.write("gadi-dask: cluster %s has no running scheduler now (no scheduler file), so Client() with no "
                         "arguments will not find it; start it with up or scale.\n" % name)
        sys.stderr.flush()
    try:
        child = subprocess.Popen([sys.executable, args.file] + list(args.args), cwd=args.dir, env=env)
    except OSError as e:
        sys.stderr.write("gadi-dask: cannot run %s: %s\n" % (args.file, e))
        write_status(args.dir, 127)
        return 127

    forward_signals(child, (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2))
    code = exit_status(child)
    write_status(args.dir, code)
    return code
