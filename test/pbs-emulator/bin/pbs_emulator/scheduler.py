"""The server's and scheduler's pass: stale supervisors, dependencies, start what fits, record how jobs end."""

import os
import time

from .common import SUB_BEGUN, SUB_DELETED, SUB_FAILED, SUB_FINISHED, SUB_QUEUED, SUB_RUNNING
from .procs import ProcessTable, kill_session, resources_used, running_usage, supervisor_alive
from .resources import exec_vnode_for, job_ncpus
from .state import spool_path, unit_key, units
from .values import short_when


def dependency_state(store, job):
    """'ok' when every after* dependency is met, 'never' when one can no longer be met, else 'wait'."""
    verdict = "ok"
    for kind, ids in job.get("depend") or []:
        if not kind.startswith("after"):
            continue
        for seq, index in ids:
            target = store.jobs.get(seq)
            if target is None:
                return "never"
            if index not in (None, "") and target.get("array"):
                sub = target["subjobs"].get(str(index))
                started = bool(sub and sub.get("stime"))
                done = bool(sub and sub["state"] == "X") or target["state"] == "F"
                status = sub.get("exit_status") if sub else None
            else:
                started = bool(target.get("stime"))
                done = target["state"] == "F"
                status = target.get("exit_status")
            if kind == "after":
                if started:
                    continue
                if done:
                    return "never"
            else:
                if not done:
                    verdict = "wait"
                    continue
                if not started:
                    return "never"
                failed = status not in (0, None)
                if (kind == "afterok" and failed) or (kind == "afternotok" and not failed):
                    return "never"
                continue
            verdict = "wait"
    return verdict


def schedule(cfg, store):
    """One pass of the server and scheduler: stale supervisors, dependencies, then start what fits.
    Returns the keys of units whose supervisors must be launched (after the lock is released)."""
    now = int(time.time())
    launches = []
    purge_history(cfg, store, now)
    for job in store.ordered():
        for unit in units(job):
            if unit["state"] in ("R", "E"):
                alive = supervisor_alive(unit)
                if alive is False or (alive is None and now - unit.get("launch_time", now) > 30):
                    kill_session(unit.get("session_id"))
                    kind = "deleted" if unit.get("delete_by") else "failed"
                    finish_unit(cfg, store, job, unit, kind, 271 if kind == "deleted" else -1, now)
    for _ in range(4):
        changed = False
        for job in store.ordered():
            if job["state"] == "H" and job["hold"] == "s":
                verdict = dependency_state(store, job)
                if verdict == "ok":
                    job.update(hold="n", state="Q", substate=SUB_QUEUED, etime=now, mtime=now)
                    store.touch(job)
                    changed = True
                elif verdict == "never":
                    # The server ends it without running it: substate 92, where a qdel leaves 91.
                    delete_queued_job(cfg, store, job, now, SUB_FINISHED)
                    changed = True
        capacity = store.node_ncpus
        running = [(j, u) for j in store.ordered() for u in units(j) if u["state"] in ("R", "E")]
        used = sum(job_ncpus(j) for j, _u in running)
        slots = {u.get("slot") for _j, u in running}
        for job in store.ordered():
            if job["state"] not in ("Q", "B") or job["hold"] != "n":
                continue
            max_run = (job.get("array") or {}).get("max_run")
            for unit in units(job):
                if unit["state"] != "Q":
                    continue
                if max_run and sum(1 for u in units(job) if u["state"] in ("R", "E")) >= max_run:
                    break
                need = job_ncpus(job)
                if capacity is not None and used + need > capacity:
                    comment = "Not Running: Insufficient amount of resource: ncpus (R: %d A: %d T: %d)" % (
                        need, max(capacity - used, 0), capacity)
                    if not job.get("array") and job.get("comment") != comment:
                        job["comment"] = comment
                        store.touch(job)
                    break
                slot = 0
                while slot in slots:
                    slot += 1
                slots.add(slot)
                used += need
                start_unit(cfg, store, job, unit, slot, now)
                launches.append(unit_key(job, unit))
                changed = True
        if not changed:
            break
    return launches


def start_unit(cfg, store, job, unit, slot, now):
    vnode = exec_vnode_for(job.get("node") or cfg.node, job["chunks"])
    host = job.get("node") or cfg.node
    chunks = []
    for count, pairs in job["chunks"]:
        n = int(dict(pairs).get("ncpus", "1"))
        for _ in range(count):
            chunks.append("%s/%d%s" % (host, slot, "*%d" % n if n > 1 else ""))
    unit.update(state="R", substate=SUB_RUNNING, stime=now, mtime=now, slot=slot, exec_host="+".join(chunks),
                exec_vnode=vnode, run_count=unit.get("run_count", 0) + 1, launch_time=now,
                comment="Job run at %s on %s" % (short_when(now), vnode))
    unit.setdefault("etime", job.get("etime", now))
    unit.pop("sup_pid", None)
    unit.pop("session_id", None)
    if job.get("array"):
        if job["state"] != "B":
            job.update(state="B", substate=SUB_BEGUN, stime=now,
                       comment="Job Array Began at %s" % short_when(now))
        job["mtime"] = now
    store.touch(job)


def exit_fields(kind, status):
    """(Exit_status, substate, comment suffix) for how a unit ended."""
    if kind == "walltime":
        return -29, SUB_FAILED, " and exceeded resource walltime"
    if kind == "deleted":
        return status, SUB_DELETED, None
    if status == 0:
        return 0, SUB_FINISHED, " and finished"
    return status, SUB_FAILED, " and failed"


def finish_unit(cfg, store, job, unit, kind, status, now, used=None):
    if used is None and "resources_used" not in unit:
        # Its supervisor is gone: what it recorded, and whatever of the job is still there.
        usage = running_usage(unit, spool_path(cfg, job, unit, ".RU"), ProcessTable())
        used = resources_used(job, usage, now - unit.get("stime", now))
    try:
        os.unlink(spool_path(cfg, job, unit, ".RU"))
    except FileNotFoundError:
        pass
    exit_status, substate, suffix = exit_fields(kind, status)
    if suffix is None:
        suffix = " and terminated by %s" % unit.get("delete_by", cfg.owner)
    unit.update(state="X" if job.get("array") else "F", substate=substate, exit_status=exit_status,
                obittime=now, mtime=now, history_timestamp=now, stageout_status=1,
                comment=(unit.get("comment") or "Job run at %s on %s" % (short_when(now), unit.get("exec_vnode")))
                + suffix)
    if used is not None:
        unit["resources_used"] = used
    store.touch(job)
    if job.get("array"):
        maybe_finish_array(store, job, now)


def maybe_finish_array(store, job, now):
    subs = units(job)
    if any(u["state"] not in ("X",) for u in subs):
        return
    began = bool(job.get("stime"))
    deleted = bool(job.get("deleted"))
    job.update(state="F", mtime=now, history_timestamp=now)
    if began:
        ran = [u for u in subs if u.get("stime")]
        job["exit_status"] = 0 if all(u.get("exit_status") == 0 for u in ran) and ran else 1
        job["obittime"] = now
        job["stageout_status"] = 1
        job["substate"] = SUB_DELETED if deleted else SUB_FINISHED
        job["comment"] = (job.get("comment") or "") + (" and terminated" if deleted else " and finished")
    else:
        job["substate"] = SUB_DELETED
    store.touch(job)


def delete_queued_job(cfg, store, job, now, substate=SUB_DELETED):
    """A job deleted before it ran goes to history without an exit status (as qdel of a held job shows); the
    scheduler's comment, if it had one, ends "and terminated"."""
    if job.get("array"):
        for unit in units(job):
            if unit["state"] == "Q":
                unit.update(state="X", substate=SUB_DELETED, mtime=now, history_timestamp=now, never_ran=True)
        job["deleted"] = True
        maybe_finish_array(store, job, now)
        if job["state"] != "F":
            store.touch(job)
        return
    job.update(state="F", substate=substate, mtime=now, history_timestamp=now)
    if job.get("comment"):
        job["comment"] += " and terminated"
    store.touch(job)


def purge_history(cfg, store, now):
    for job in list(store.jobs.values()):
        if job["state"] == "F" and now - job.get("history_timestamp", now) > cfg.history_seconds:
            store.remove(job)
