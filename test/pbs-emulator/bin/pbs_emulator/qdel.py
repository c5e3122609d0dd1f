"""qdel: delete jobs; a running job is killed and stays `R` until its supervisor reports the exit."""

import getopt
import os
import signal
import time

from .common import PBSE_HISTJOBID, PBSE_UNKJOBID, SUB_DELETED, err, pbs_exit
from .ids import id_text, norm_jobid
from .procs import supervisor_alive
from .scheduler import delete_queued_job, maybe_finish_array, schedule
from .state import Store, units
from .supervisor import launch


QDEL_USAGE = "usage:\n\tqdel [-W force|suppress_email=X] [-x] job_identifier...\n\tqdel --version\n"


def qdel(cfg, argv):
    try:
        opts, ids = getopt.gnu_getopt(argv, "W:x")
    except getopt.GetoptError:
        err(QDEL_USAGE)
        return 2
    delete_history = False
    for opt, val in opts:
        if opt == "-x":
            delete_history = True
        elif opt == "-W":
            if not val or not (val == "force" or val.startswith("suppress_email=") or val.isdigit()):
                err("qdel: illegal -W value\n")
                err(QDEL_USAGE)
                return 2
    if not ids:
        err(QDEL_USAGE)
        return 2
    any_failed = 0
    now = int(time.time())
    signals = []
    with Store(cfg) as store:
        for text in ids:
            ref = norm_jobid(cfg, text)
            if ref is None:
                err("qdel: illegally formed job identifier: %s\n" % text)
                any_failed = 1
                continue
            seq, index = ref
            shown = id_text(cfg, seq, index if index in (None, "") else int(index) if index.isdigit() else index)
            job = store.jobs.get(seq)
            targets = None
            if job is not None:
                if index is None and not job.get("array"):
                    targets = [job]
                elif index == "" and job.get("array"):
                    targets = units(job)
                elif index not in (None, "") and job.get("array") and index.isdigit():
                    unit = job["subjobs"].get(str(int(index)))
                    targets = [unit] if unit is not None else None
            if targets is None:
                err("qdel: Unknown Job Id %s\n" % shown)
                any_failed = PBSE_UNKJOBID
                continue
            finished = job["state"] == "F" or (len(targets) == 1 and targets[0]["state"] == "X")
            if finished:
                if delete_history and job["state"] == "F" and index in (None, ""):
                    store.remove(job)
                    continue
                err("qdel: Job has finished %s\n" % shown)
                any_failed = PBSE_HISTJOBID
                continue
            if job.get("array") and index == "":
                job["deleted"] = True
                job["delete_by"] = cfg.owner
            if not job.get("array") and job["state"] in ("Q", "H"):
                delete_queued_job(cfg, store, job, now)
                continue
            for unit in targets:
                if unit["state"] == "Q":
                    unit.update(state="X", substate=SUB_DELETED, mtime=now, history_timestamp=now, never_ran=True)
                elif unit["state"] in ("R", "E"):
                    # It stays R (substate 42) until its supervisor reports the exit; a second qdel is a no-op.
                    if not unit.get("delete_by"):
                        unit.update(delete_by=cfg.owner, linger=cfg.qdel_linger, mtime=now)
                    alive = supervisor_alive(unit)
                    if alive:
                        signals.append(unit["sup_pid"])
            store.touch(job)
            if job.get("array"):
                if job["state"] in ("Q", "H") and all(u["state"] == "X" for u in units(job)):
                    job["deleted"] = True
                maybe_finish_array(store, job, now)
        launches = schedule(cfg, store)
    for pid in signals:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    launch(cfg, launches)
    return pbs_exit(any_failed)
