"""The user's jobs of no cluster: listed (user-jobs) and cancelled (qdel)."""
import json
import os

from . import pbs
from .common import root_dir
from .journal import Journal
from .op_common import Refusal, _pbs_refusal
from .pbsjson import PbsOutputError
from .protocol import CLUSTER_NAME, JOB_ID
from .reconcile import qselect, qstat, user


def op_user_jobs(args, progress, agent):
    try:
        ids = qselect(["-u", user()])
        exclude = set(args.get("exclude") or [])
        jobs = qstat([i for i in ids if i not in exclude])
    except (PbsOutputError, pbs.PbsError) as e:
        raise _pbs_refusal(e)
    return {"ok": True, "qstat": json.dumps({"pbs_version": "agent", "pbs_server": "", "Jobs": jobs})}


def _cluster_of(job_id):
    """The cluster whose journal holds this job, or None."""
    base = os.path.join(root_dir(), "clusters")
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return None
    for n in names:
        cdir = os.path.join(base, n)
        if CLUSTER_NAME.match(n) and os.path.exists(os.path.join(cdir, "journal.jsonl")) and job_id in Journal(cdir).jobs:
            return n
    return None


def op_qdel(args, progress, agent):
    """qdel for the user's jobs of no cluster, one qdel per id so each has PBS's own exit status and message. A
    cluster's job is refused: it is cancelled through its cluster (lock, journal, workers retired first)."""
    ids = [str(i) for i in args.get("ids") or []]
    bad = [i for i in ids if not JOB_ID.match(i)]
    if bad:
        raise Refusal("bad-request", "not PBS job ids: %s" % ", ".join(bad))
    results = []
    for i in ids:
        owner = _cluster_of(i)
        if owner:
            results.append({"id": i, "outcome": "error", "cluster": owner,
                            "message": "job %s belongs to cluster %s: cancel it through that cluster" % (i, owner)})
            continue
        try:
            rc, out, err = pbs.run(["qdel", i], 60)
        except pbs.PbsError as e:
            results.append({"id": i, "outcome": "error", "message": str(e)})
            continue
        said = (err + out).strip()
        if rc == 0:
            outcome = "deleted"
        elif rc in pbs.QDEL_GONE or pbs.QDEL_GONE_TEXT.search(said) or pbs.QDEL_LEAVING.search(said):
            outcome = "gone"
        else:
            outcome = "error"
        entry = {"id": i, "outcome": outcome, "exitCode": rc}
        if said:
            entry["message"] = said
        results.append(entry)
    return {"ok": True, "cancelled": results}
