"""run: a Python file of the user's, submitted as a PBS job of its own that is a client of the cluster.

The file and its job script go into the run's private directory, ``<cluster dir>/runs/<id>/``, with an empty
``output`` that the job appends to (a client follows it with follow.sh). The qsub is journaled like the cluster's
own, in the run's journal: the cluster's journal lists only its scheduler and workers, so a run is never adopted,
held or retired as a worker. The job is the user's, cancelled with the ``qdel`` operation.
"""
import base64
import os
import re

from .common import SCHEDULER_FILE
from .journal import Journal
from .op_common import Refusal, _cluster, _write_atomic
from .op_pbs import submit

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}\.py$")
RUN_SCRIPT = "run.pbs"
OUTPUT_FILE = "output"


def op_run(args, progress, agent):
    name, cdir = _cluster(args)
    run_id = str(args.get("runId", ""))
    file_name = str(args.get("fileName", ""))
    if not RUN_ID.match(run_id):
        raise Refusal("bad-request", "%r is not a run id" % run_id)
    if not FILE_NAME.match(file_name):
        raise Refusal("bad-request", "%r is not a Python file name this runtime writes" % file_name)
    try:
        source = base64.b64decode(str(args.get("source", "")), validate=True)
    except ValueError:
        raise Refusal("bad-request", "the file's content is not base64")
    if not os.path.exists(os.path.join(cdir, SCHEDULER_FILE)):
        raise Refusal("not-running", "cluster %s has no running scheduler, so the file would have no cluster to "
                      "use: start it with up or scale, then run the file again" % name)
    runs = os.path.join(cdir, "runs")
    run_dir = os.path.join(runs, run_id)
    os.makedirs(runs, mode=0o700, exist_ok=True)
    try:
        os.mkdir(run_dir, 0o700)
    except FileExistsError:
        raise Refusal("bad-request", "run %s of cluster %s exists already" % (run_id, name))
    fd = os.open(os.path.join(run_dir, file_name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(source)
    _write_atomic(os.path.join(run_dir, RUN_SCRIPT), str(args.get("script", "")), 0o600)
    os.close(os.open(os.path.join(run_dir, OUTPUT_FILE), os.O_WRONLY | os.O_CREAT, 0o600))
    progress("Submitting %s as a job of cluster %s" % (file_name, name))
    job_id, error = submit(Journal(run_dir), run_dir, "run", RUN_SCRIPT, cluster=name)
    if error:
        raise Refusal("qsub", "the job of %s was not submitted" % file_name, qsub=error)
    return {"ok": True, "jobId": job_id, "runDir": run_dir, "output": os.path.join(run_dir, OUTPUT_FILE)}
