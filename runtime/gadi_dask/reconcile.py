"""What PBS says about the account's jobs, held against the cluster's journal.

Every operation starts here: the jobs PBS lists for this user that carry one of the cluster's job names and that
the journal lacks are adopted, an intent whose qsub left no id is looked up by its unique name (and refused only
once no qsub of it can still land: inflight.py), and a job PBS no longer has is marked finished, the last only when
PBS answered in its own format (pbsjson). A PBS answer that is not its format raises PbsOutputError before anything is decided, submitted, cancelled or dropped.
"""
import getpass
import json
import os
import re
import secrets
import time

from . import inflight, pbs
from .common import ADAPT_STATE_FILE, Beside, read_json
from .pbsjson import PbsOutputError, parse_qselect, parse_qstat
from .protocol import JOB_ID, JOB_NAME_SUFFIX, KERNEL_ROLE

DONE_STATES = set("FXM")  # finished, expired sub-job, moved: holds nothing here any more
QUEUED_STATES = set("QHWTS")
QSTAT_QUIET = (0, 35, 153)  # ok, "Job has finished", "Unknown Job Id"
QUIET_ERRORS = re.compile(r"Unknown Job Id|Job has finished")
CHUNK = 200  # ids per qstat call: argv stays far below ARG_MAX
SCHEDULER_PREFIX = "dask-scheduler-"
# A refresh lists the user's jobs (to adopt one of the cluster's that the journal lacks) at most this often; a
# changing operation, or an open intent, always lists. Each PBS command holds a privileged port for a minute after it.
LIST_EVERY = 60
LISTED_FILE = "pbs-listed"  # its mtime: when a reconcile of this cluster last listed the user's jobs
RUN_PREFIX = "dask-run-"
KERNEL_PREFIX = "dask-kernel-"


def user():
    return os.environ.get("USER") or getpass.getuser()


def unique_name(cluster, role):
    """A job name no other job has: the cluster's (so the job is found by name) and 8 random hex digits. A file run
    on the cluster (op_run) and its kernel (op_kernel) have names of their own, never taken for a worker's."""
    base = {"scheduler": SCHEDULER_PREFIX + cluster, "run": RUN_PREFIX + cluster,
            KERNEL_ROLE: KERNEL_PREFIX + cluster}.get(role, cluster)
    return "%s-%s" % (base, secrets.token_hex(4))


def role_of_name(cluster, job_name):
    """The role of a job of this cluster by its unique name, or None when the name is not one of ours."""
    name = job_name or ""
    m = JOB_NAME_SUFFIX.search(name)
    if not m:
        return None
    base = name[:m.start()]
    for role, ours in (("scheduler", SCHEDULER_PREFIX + cluster), ("worker", cluster)):
        if base == ours:
            return role
    return None


def qselect(args, timeout=60):
    rc, out, err = pbs.run(["qselect"] + list(args), timeout)
    pbs.check_reachable("qselect", rc, err)
    if rc == 127:
        raise PbsOutputError("qselect: command not found (exit 127): %s" % (err or out).strip()[:300])
    if rc != 0:
        raise PbsOutputError("qselect %s exited %d: %s" % (" ".join(args), rc, (err or out).strip()[:300]))
    return parse_qselect(out, JOB_ID)


def qstat(ids, timeout=60):
    """{id: attributes} from ``qstat -x -f -F json`` for these ids (unknown ids are simply absent). -E: one request
    for the ids (without it qstat opens a connection per id, each holding a privileged port for a minute)."""
    jobs = {}
    ids = sorted(set(ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        rc, out, err = pbs.run(["qstat", "-E", "-x", "-f", "-F", "json"] + chunk, timeout)
        pbs.check_reachable("qstat", rc, err)
        loud = [ln for ln in err.splitlines() if ln.strip() and not QUIET_ERRORS.search(ln)]
        if rc not in QSTAT_QUIET or loud:
            why = "qstat: command not found (exit 127)" if rc == 127 else "qstat exited %d" % rc
            raise PbsOutputError("%s: %s" % (why, ("\n".join(loud) or err or out).strip()[:300]))
        if not out.strip() and rc == 153 and len(err.strip().splitlines()) >= len(chunk):
            continue  # every id unknown: PBS prints only the errors
        jobs.update(parse_qstat(out))
    return jobs


def owned(attrs, who):
    return str(attrs.get("Job_Owner", "")).split("@")[0] == who


def foreign(cluster, attrs, who):
    """Why a job PBS lists is not one of this cluster's (None when it is): the user's, under one of the cluster's
    names. Besides the unique names, the plain ones: adaptivity submits the worker script with its own `#PBS -N`."""
    if attrs is None:
        return "PBS does not list it"
    name = attrs.get("Job_Name")
    if not owned(attrs, who):
        return "its owner is %s, not %s" % (attrs.get("Job_Owner"), who)
    if role_of_name(cluster, name) is None and name not in (cluster, SCHEDULER_PREFIX + cluster):
        return "its name %r is not one of cluster %s's" % (name, cluster)
    return None


def adaptive_job_ids(cdir):
    state = read_json(os.path.join(cdir, ADAPT_STATE_FILE))
    jobs = state.get("jobs") if isinstance(state, dict) else None
    return [j["id"] for j in jobs or [] if isinstance(j, dict) and JOB_ID.match(str(j.get("id", "")))]


class View(object):
    """The cluster's jobs as PBS and the journal see them now."""

    def __init__(self, journal, pbs_jobs, adaptive, cluster, who):
        self.journal = journal
        self.cluster = cluster
        self.who = who
        self.pbs = pbs_jobs
        self.adaptive = adaptive  # ids adaptivity owns (from its state file)
        self.gone = set()  # jobs bound to a dead scheduler: leaving whatever PBS shows

    def state(self, job_id):
        attrs = self.pbs.get(job_id)
        return attrs.get("job_state", "") if attrs else ""

    def active(self, job_id):
        job = self.journal.jobs.get(job_id)
        if job_id in self.gone or (job is not None and job.cancelled):
            return False  # qdel accepted: it may linger in R for seconds, but it is leaving
        s = self.state(job_id)
        return bool(s) and s not in DONE_STATES and s != "E"

    def foreign(self, job_id):
        """Why PBS's job is not this cluster's, or None: asked before any qdel."""
        return foreign(self.cluster, self.pbs.get(job_id), self.who)

    def queued(self, job_id):
        return self.state(job_id) in QUEUED_STATES

    def user_live(self):
        """Every job of the user's PBS still holds (any cluster's, or none): what the per-user ceiling counts."""
        return [i for i, a in self.pbs.items() if owned(a, self.who) and a.get("job_state") not in DONE_STATES]

    def scheduler_job(self):
        """The newest live scheduler job."""
        live = [j for j in self.journal.live("scheduler") if self.active(j.id)]
        return live[-1].id if live else None

    def worker_ids(self):
        ids = [j.id for j in self.journal.live("worker")]
        return ids + [i for i in self.adaptive if i not in self.journal.jobs]

    def exiting(self, ids):
        """Of ids, those PBS still runs (a deleted running job stays R until its host reports the exit)."""
        return [i for i in ids if self.state(i) and self.state(i) not in DONE_STATES]

    def qstat_text(self, ids):
        """qstat's JSON for these ids, re-serialised for the client's full parser."""
        jobs = dict((i, self.pbs[i]) for i in ids if i in self.pbs)
        return json.dumps({"pbs_version": "agent", "pbs_server": "", "Jobs": jobs}, separators=(",", ":"))


def _found(journal, name, who, jobs, record):
    found = [i for i in qselect(["-x", "-u", who, "-N", name]) if i not in journal.jobs]
    if found:
        jobs.update(qstat(found))
        record("submitted", id=found[0], role=journal.intents[name]["role"], name=name)
    return bool(found)


def listing_due(journal, cdir):
    """Whether a refresh should list the user's jobs: an intent is open (its job may be in PBS under its name
    only), or no reconcile of this cluster has listed them for LIST_EVERY seconds."""
    if journal.intents:
        return True
    try:
        age = time.time() - os.stat(os.path.join(cdir, LISTED_FILE)).st_mtime
    except OSError:
        return True
    return not 0 <= age < LIST_EVERY


def _listed(cdir):
    try:
        with open(os.path.join(cdir, LISTED_FILE), "a"):
            pass
        os.utime(os.path.join(cdir, LISTED_FILE))
    except OSError:
        pass  # a full or read-only home: the next refresh lists again


def reconcile(journal, cluster, cdir, also=(), write=True, wait_for_qsub=True, list_jobs=True):
    """Brings the journal in line with PBS and returns the View. ``write=False``: decide, record nothing (and leave
    intents open: their agent may be submitting right now). ``wait_for_qsub``: wait for a qsub a dead agent left
    running on this host, instead of leaving its intent open. ``list_jobs=False``: ask PBS about the known jobs
    only (a refresh between two listings: listing_due); nothing is adopted then."""
    who = user()
    adaptive = adaptive_job_ids(cdir)
    known = set(j.id for j in journal.jobs.values()) | set(also) | set(adaptive)
    # The user's job list and the known jobs' attributes side by side: each is a round trip to the PBS server, and
    # every operation starts here. Only jobs the list adds (the user's others, or one we lost) cost a second qstat.
    listed = Beside(lambda: qselect(["-u", who])) if list_jobs else None
    try:
        jobs = qstat(known)
    finally:
        active = listed.result() if listed else []
    if listed:
        _listed(cdir)
    jobs.update(qstat(set(active) - known))
    record = journal.record if write else journal.apply_only

    for job_id in active:
        attrs = jobs.get(job_id)
        if not attrs or not owned(attrs, who) or job_id in journal.jobs:
            continue
        name = attrs.get("Job_Name")
        if name in journal.intents:
            record("submitted", id=job_id, role=journal.intents[name]["role"], name=name)
            continue
        role = role_of_name(cluster, name)
        if role:
            record("adopted", id=job_id, role=role, name=name)

    for name in list(journal.intents) if write else ():
        # The qsub of this intent may have gone through and its job finished already: look in the history.
        if _found(journal, name, who, jobs, record):
            continue
        if inflight.settle(name, journal.intents[name], wait_for_qsub):
            continue  # its qsub may still land: a pending job of its role, adopted by name when it appears
        if not _found(journal, name, who, jobs, record):
            record("refused", name=name, reason="PBS has no job of this name and no qsub of it can still land")

    for job in journal.live():
        attrs = jobs.get(job.id)
        if attrs is None or attrs.get("job_state") in DONE_STATES:
            record("finished", id=job.id, exit=attrs.get("Exit_status") if attrs else None)
        elif foreign(cluster, attrs, who):
            # An id taken from a qsub's chatter by an older agent: never counted, never cancelled.
            record("forgotten", id=job.id, reason="not a job of this cluster: %s" % foreign(cluster, attrs, who))
    return View(journal, jobs, adaptive, cluster, who)
