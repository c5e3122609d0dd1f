"""Whether the cluster's scheduler lives, asked of the scheduler itself rather than PBS: PBS keeps a deleted job R
until its host reports the exit, and a killed scheduler's job may run on. Only a definite answer counts as dead
(the metadata saying it stopped, or a refused connection); a slow answer is not a death."""
import os

from .common import METADATA_FILE, SCHEDULER_FILE, read_json, tcp_connect

CONNECT_TIMEOUT = 5.0


def refused(address, timeout=CONNECT_TIMEOUT):
    """True only when the scheduler's host answered that nothing listens at the address any more."""
    return tcp_connect(address, timeout) == "refused"


def dead_scheduler(cdir, view):
    """(the scheduler's job PBS still runs, or None; why it is dead) when the cluster's scheduler is gone, else None.

    A scheduler job still queued, or running but whose scheduler has not published itself yet, is starting, not
    dead; so is a cluster that never had a scheduler."""
    sid = view.scheduler_job()
    if sid and view.queued(sid):
        return None
    meta = read_json(os.path.join(cdir, METADATA_FILE))
    meta = meta if isinstance(meta, dict) else {}
    if not meta or (sid and meta.get("pbsJobId") != sid):
        return None
    sched = read_json(os.path.join(cdir, SCHEDULER_FILE))
    address = sched.get("address") if isinstance(sched, dict) else None
    if meta.get("state") in ("stopping", "stopped", "failed"):
        return sid, "it %s (%s)" % (meta["state"], meta.get("stopReason") or meta.get("error") or "no reason recorded")
    if address and refused(address):
        return sid, "nothing listens at %s any more" % address
    if not address and not sid and meta.get("state") == "running":
        return None, "its job has ended"
    return None
