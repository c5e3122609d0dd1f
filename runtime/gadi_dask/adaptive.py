"""Adaptive scaling in units of PBS worker jobs.

``decide`` is a pure function of (parameters, observed load, memory of earlier decisions); the controller in
``adaptive_controller.py`` observes the scheduler, calls it, and carries out the decision with qsub/qdel.

Why the rules look like this (dask-jobqueue #498 loops submitting and cancelling jobs):
- Jobs still waiting in the PBS queue count as capacity, so a backlog that waits for the queue does not make us
  submit again and again, and a queued job is never mistaken for a missing one.
- Scale up at once when the backlog needs more jobs than we have (subject only to the cooldown).
- Scale down only after demand has stayed below the current size for ``scale_down_delay`` seconds, and only to
  the highest demand seen during that window; never below ``minimum``.
- After any change nothing else changes for ``cooldown`` seconds.
- A job whose workers are processing tasks is never picked; queued jobs go first, then running jobs holding the
  least data (their workers are retired by the scheduler, which moves the data, before the job is cancelled).
"""
import math
from collections import namedtuple

PENDING = "pending"  # submitted, no worker connected yet (queued, held, or starting up)
RUNNING = "running"  # at least one worker of the job is connected

Params = namedtuple("Params", "minimum maximum threads_per_job scale_down_delay cooldown")
Params.__new__.__defaults__ = (120.0, 30.0)

Job = namedtuple("Job", "id phase processing nbytes submitted")
Job.__new__.__defaults__ = (0, 0, 0.0)

Load = namedtuple("Load", "now tasks jobs")

Memory = namedtuple("Memory", "last_change low_since low_peak")
Memory.__new__.__defaults__ = (None, None, 0)

Decision = namedtuple("Decision", "target submit cancel retire reason")


def check_params(p):
    if p.minimum < 0 or p.maximum < p.minimum:
        raise ValueError("need 0 <= min <= max, got min=%r max=%r" % (p.minimum, p.maximum))
    if p.threads_per_job < 1:
        raise ValueError("threads per job must be at least 1")
    if p.scale_down_delay < 0 or p.cooldown < 0:
        raise ValueError("delays must not be negative")
    return p


def wanted_jobs(params, tasks):
    """Jobs needed so that every runnable task has a thread, clamped to [minimum, maximum]."""
    want = int(math.ceil(max(0, tasks) / float(params.threads_per_job)))
    return max(params.minimum, min(params.maximum, want))


def _hold(target, reason, memory):
    return Decision(target, 0, (), (), reason), memory


def _removal_order(jobs):
    """Queued jobs first (newest first: the oldest is likeliest to start soon), then idle running jobs with the
    least data, newest first. Busy jobs are left out entirely."""
    pending = sorted((j for j in jobs if j.phase == PENDING), key=lambda j: -j.submitted)
    idle = sorted(
        (j for j in jobs if j.phase == RUNNING and j.processing == 0), key=lambda j: (j.nbytes, -j.submitted)
    )
    return pending + idle


def decide(params, load, memory=Memory()):
    """Return (Decision, new Memory) for one observation. Pure: same inputs, same outputs."""
    have = len(load.jobs)
    target = wanted_jobs(params, load.tasks)
    cooling = memory.last_change is not None and load.now - memory.last_change < params.cooldown

    if target > have:
        calm = memory._replace(low_since=None, low_peak=0)
        if cooling:
            return _hold(target, "cooldown", calm)
        why = "below minimum" if have < params.minimum else "backlog of %d tasks" % load.tasks
        return Decision(target, target - have, (), (), why), calm._replace(last_change=load.now)

    if target == have:
        return _hold(target, "steady", memory._replace(low_since=None, low_peak=0))

    # Demand is below the current size: remember since when, and the highest demand meanwhile.
    if memory.low_since is None:
        low_since, low_peak = load.now, target
    else:
        low_since, low_peak = memory.low_since, max(memory.low_peak, target)
    waiting = memory._replace(low_since=low_since, low_peak=low_peak)

    over_max = have > params.maximum  # the user lowered max: no reason to wait for a quiet period
    if not over_max and load.now - low_since < params.scale_down_delay:
        return _hold(target, "waiting for sustained low demand", waiting)
    if cooling:
        return _hold(target, "cooldown", waiting)

    keep = min(params.maximum, max(low_peak, params.minimum))
    candidates = _removal_order(load.jobs)[: max(0, have - keep)]
    if not candidates:
        return _hold(target, "jobs above target are busy", waiting)
    cancel = tuple(j.id for j in candidates if j.phase == PENDING)
    retire = tuple(j.id for j in candidates if j.phase == RUNNING)
    reason = "above maximum" if over_max else "low demand for %ds" % int(load.now - low_since)
    done = Memory(last_change=load.now, low_since=None, low_peak=0)
    return Decision(keep, 0, cancel, retire, reason), done


# ---- holding a size through walltimes -----------------------------------------------------------------------------
# Before this cluster has seen a job start on its queue, a replacement is submitted this long before the job it
# replaces retires (Gadi's normal queue often starts a small job within minutes).
DEFAULT_QUEUE_WAIT = 300.0
QUEUE_WAIT_SAMPLES = 8  # the recent waits that count: the queue's load changes over a day
MIN_LEAD = 20.0  # worker start-up after the job starts, even when the queue wait is nil
FAILED_STARTS_LIMIT = 3  # failed starts in a row after which nothing more is submitted


def earliest_retirement(started, expiry):
    """When a job whose first worker connected at ``started`` is first expected to go, or None when unknown.

    ``expiry`` is {"lifetime", "stagger", "walltime"} in seconds (any may be None): a worker with ``--lifetime L
    --lifetime-stagger S`` retires from L - S after it started; without a lifetime PBS ends the job at its walltime,
    counted from before the prologue (a minute is kept for it)."""
    if started is None or not expiry:
        return None
    if expiry.get("lifetime"):
        return started + expiry["lifetime"] - (expiry.get("stagger") or 0)
    if expiry.get("walltime"):
        return started + expiry["walltime"] - 60
    return None


def handover_lead(waits, life):
    """Seconds before a job's earliest retirement at which its successor is submitted: the longest recent queue wait
    (submission to first worker) and half again, or DEFAULT_QUEUE_WAIT before there is one. At most half the job's
    life, so that every job counts as capacity for half its life at least: one successor per job, never a chain."""
    longest = max(waits) if waits else DEFAULT_QUEUE_WAIT
    lead = max(MIN_LEAD, 1.5 * longest)
    return min(lead, life / 2.0) if life and life > 0 else lead
