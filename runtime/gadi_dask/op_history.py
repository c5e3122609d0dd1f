"""history (what the cluster's jobs asked for and used) and discover (the clusters in the home directory)."""
import os

from .common import root_dir
from .history import History
from .journal import Journal
from .op_common import Refusal, _cluster, runtime_command
from .op_observe import _refresh
from .protocol import CLUSTER_NAME


def op_discover(args, progress, agent):
    doc, rc, out, err = runtime_command(["list"], 60)
    if not doc:
        raise Refusal("list", "listing the clusters failed: %s" % (err or out).strip()[-300:], prologue=agent.prologue_log())
    jobs = {}
    base = os.path.join(root_dir(), "clusters")
    for entry in doc.get("clusters") or []:
        n = entry.get("name", "")
        if CLUSTER_NAME.match(n):
            jobs[n] = [j.to_doc() for j in Journal(os.path.join(base, n)).jobs.values()]
    return {"ok": True, "list": doc, "jobs": jobs}


def op_history(args, progress, agent):
    name, cdir = _cluster(args)
    if not os.path.isdir(cdir):
        return {"ok": True, "exists": False}
    # What PBS says now goes in first, so the report has the running jobs' figures and the ends nobody polled.
    _, _, _, warnings = _refresh(name, cdir, args)
    history = History(cdir)
    return {"ok": True, "exists": True, "jobs": history.to_docs(), "warnings": warnings + history.warnings}
