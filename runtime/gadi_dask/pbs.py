"""qsub / qdel / qstat through argument lists (never a shell), with timeouts, a bound on what they print, and PBS
Pro's exit codes. What PBS prints is bytes (job attributes hold whatever the user gave): read with replacement."""
import json
import re

from .common import OUTPUT_LIMIT, CommandTimeout, OutputTooLarge, run_bounded
from .protocol import JOB_ID

# qdel: 0 deleted, 35 "Job has finished", 153 "Unknown Job Id": for cancelling, all three mean "gone".
QDEL_GONE = (0, 35, 153)
# qdel of a job PBS is already ending (state E) answers 168 (PBSE_BADSTATE) "Request invalid for state of job".
QDEL_LEAVING = re.compile(r"Request invalid for state of job")
QDEL_GONE_TEXT = re.compile(r"Unknown Job Id|has finished")
# A job's Exit_status after a SIGTERM (a qdel, or PBS stopping it): its shell ended by the signal (128 + 15), or
# PBS's record of it (256 + 15). A copy of QDEL_EXIT_STATUSES in src/core/pbs/states.ts (a test proves they agree),
# without the 0 that a program leaving cleanly on the signal also gives.
SIGTERM_EXIT_STATUSES = (143, 271)
DONE_STATES = set("FX")  # finished, sub-job expired; any other state still holds (or will hold) resources
# What a PBS client prints when the server does not answer (pbs_connect failed; errno 15010 and kin).
UNREACHABLE = re.compile(r"cannot connect to server|Connection refused|pbs_connect|errno=150\d\d|Communication failure",
                         re.I)


class PbsError(Exception):
    pass


class PbsUnreachable(PbsError):
    """The PBS server did not answer: nothing was asked of it."""


def run(argv, timeout, cwd=None):
    try:
        return run_bounded(argv, timeout, cwd)
    except FileNotFoundError:
        raise PbsError("%s: command not found (is PBS on PATH here?)" % argv[0])
    except CommandTimeout:
        raise PbsError("%s did not finish within %ss" % (argv[0], timeout))
    except OutputTooLarge:
        raise PbsError("%s printed more than %d MB, so it was stopped and its output not read: PBS may be listing "
                       "far more than asked for; try again, and tell the site's support if it persists"
                       % (argv[0], OUTPUT_LIMIT // 2 ** 20))


def check_reachable(command, rc, err):
    """Raises PbsUnreachable when a PBS command failed because the server did not answer."""
    if rc != 0 and UNREACHABLE.search(err or ""):
        raise PbsUnreachable(
            "PBS's server did not answer %s (exit %d: %s). Try again in a few minutes; if it keeps failing, PBS "
            "itself may be down" % (command, rc, " ".join((err or "").split())[:300]))


def answer_id(out):
    """The job id qsub printed, only when its answer is unambiguous: one line holding nothing but an id of a server's
    form (``<seq>[<index>].<server>``, a server name starting with a letter). Anything else (a site notice, a second
    id, ``12345.67 KSU``) is None: the caller finds the job by its unique name."""
    lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
    if len(lines) != 1 or not JOB_ID.match(lines[0]):
        return None
    server = lines[0].partition(".")[2]
    return lines[0] if server[:1].isalpha() else None


def qsub(script, args=(), cwd=None, timeout=60):
    """Submit one job script; return its job id (qsub prints it on stdout)."""
    rc, out, err = run(["qsub"] + [str(a) for a in args] + [script], timeout, cwd)
    check_reachable("qsub", rc, err)
    job_id = answer_id(out) if rc == 0 else None
    if job_id is None:
        raise PbsError(qsub_failure(rc, out, err))
    return job_id


def qsub_failure(rc, out, err):
    """What a qsub that gave no job id said, for a person."""
    msg = err.strip() or out.strip()
    if rc is None:
        return "qsub: %s" % (msg or "no answer")
    if rc == 32 and not msg:
        msg = "the request breaks a queue limit (Gadi's qsub exits 32 without a message)"
    elif rc == 0:
        msg = "its answer names no single job id, so the job (if PBS took it) is not tracked: %r" % out.strip()[:300]
    return "qsub exited %d: %s" % (rc, msg or "no output")


def _names(line, job):
    """Whether a line of qdel's names this job (a whole word: 12.gadi-pbs is not in 112.gadi-pbs)."""
    return any(w == job or (w.startswith(job + ".") and "." not in job) for w in line.split())


def qdel(job_ids, timeout=60):
    """Cancel jobs; return {id: "deleted"|"gone"|"error: ..."} (gone = already finished, unknown, or exiting).

    qdel prints one line for each id it could not delete (its exit status is the last failure's), so an id no line
    names was deleted, unless qdel failed as a whole (a line that names none of the ids)."""
    ids = [str(j) for j in job_ids]
    if not ids:
        return {}
    rc, out, err = run(["qdel"] + ids, timeout)
    check_reachable("qdel", rc, err)
    lines = [ln.strip() for ln in (err + "\n" + out).splitlines() if ln.strip()]
    general = [ln for ln in lines if not any(_names(ln, j) for j in ids)]
    result = {}
    for job in ids:
        said = [ln for ln in lines if _names(ln, job)]
        if not said:
            if rc == 0 or (not general and (lines or rc in QDEL_GONE)):
                result[job] = "deleted"
            else:
                result[job] = "error: qdel exited %d%s" % (rc, ": " + " ".join(general)[:300] if general else "")
        elif all(QDEL_GONE_TEXT.search(ln) or QDEL_LEAVING.search(ln) for ln in said):
            result[job] = "gone"
        else:
            result[job] = "error: " + said[-1]
    return result


def qstat_states(job_ids, timeout=30):
    """{id: one-letter job_state} for the ids PBS still knows (with -x, finished ones show as F)."""
    return dict((job, info["state"]) for job, info in qstat_jobs(job_ids, timeout).items())


def qstat_jobs(job_ids, timeout=30):
    """{id: {"state", "errorPath", "exitStatus"}} for the ids PBS still knows (with -x, finished ones show as F).

    -E: one request for all the ids (without it qstat opens one connection per id); PBS answers for those it knows
    and says nothing of the others unless it knows none. So an id missing from an answer that is PBS's (exit 0, or
    153 "Unknown Job Id") maps to "F"; after any other failure, missing ids are left out (state unknown).
    """
    ids = [str(j) for j in job_ids]
    if not ids:
        return {}
    rc, out, err = run(["qstat", "-E", "-x", "-f", "-F", "json"] + ids, timeout)
    check_reachable("qstat", rc, err)
    try:
        doc = json.loads(out) if out.strip() else {}
    except ValueError:
        raise PbsError("qstat printed output that is not JSON (exit %d): %s" % (rc, out[:200]))
    jobs = doc.get("Jobs") or {}
    found = {}
    for job in ids:
        info = jobs.get(job)
        if isinstance(info, dict) and isinstance(info.get("job_state"), str):
            path = info.get("Error_Path")
            status = info.get("Exit_status")
            found[job] = {
                "state": info["job_state"],
                # "host:/path": the file is on the shared filesystem, the host is where PBS copies it from.
                "errorPath": path.split(":", 1)[-1] if isinstance(path, str) and path else None,
                "exitStatus": status if isinstance(status, int) and not isinstance(status, bool) else None,
            }
        elif rc in (0, 153) and "pbs_server" in doc:
            found[job] = {"state": "F", "errorPath": None, "exitStatus": None}
    return found
