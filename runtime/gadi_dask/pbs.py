"""qsub / qdel / qstat through argument lists (never a shell), with timeouts and PBS Pro's exit codes."""
import json
import re
import subprocess

# qdel: 0 deleted, 35 "Job has finished", 153 "Unknown Job Id": for cancelling, all three mean "gone".
QDEL_GONE = (0, 35, 153)
DONE_STATES = set("FX")  # finished, sub-job expired; any other state still holds (or will hold) resources


class PbsError(Exception):
    pass


def run(argv, timeout, cwd=None):
    try:
        p = subprocess.run(
            argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            timeout=timeout, universal_newlines=True,
        )
    except FileNotFoundError:
        raise PbsError("%s: command not found (is PBS on PATH here?)" % argv[0])
    except subprocess.TimeoutExpired:
        raise PbsError("%s did not finish within %ss" % (argv[0], timeout))
    return p.returncode, p.stdout, p.stderr


def qsub(script, args=(), cwd=None, timeout=60):
    """Submit one job script; return its job id (qsub prints it on stdout)."""
    rc, out, err = run(["qsub"] + [str(a) for a in args] + [script], timeout, cwd)
    lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
    if rc != 0 or not lines:
        msg = err.strip() or out.strip()
        if rc == 32 and not msg:
            msg = "the request breaks a queue limit (Gadi's qsub exits 32 without a message)"
        raise PbsError("qsub exited %d: %s" % (rc, msg or "no output"))
    return lines[-1]


def qdel(job_ids, timeout=60):
    """Cancel jobs; return {id: "deleted"|"gone"|"error: ..."} (gone = already finished or unknown)."""
    ids = [str(j) for j in job_ids]
    if not ids:
        return {}
    rc, out, err = run(["qdel"] + ids, timeout)
    result = {}
    for job in ids:
        lines = [ln for ln in (err + out).splitlines() if job in ln]
        if not lines:
            result[job] = "deleted" if rc in QDEL_GONE else "error: qdel exited %d" % rc
        elif any(("Unknown Job Id" in ln or "has finished" in ln) for ln in lines):
            result[job] = "gone"
        else:
            result[job] = "error: " + lines[-1].strip()
    return result


def qstat_states(job_ids, timeout=30):
    """{id: one-letter job_state} for the ids PBS still knows (with -x, finished ones show as F).

    Ids PBS reports as unknown map to "F"; ids missing for another reason are left out (state unknown).
    """
    ids = [str(j) for j in job_ids]
    if not ids:
        return {}
    rc, out, err = run(["qstat", "-x", "-f", "-F", "json"] + ids, timeout)
    try:
        doc = json.loads(out) if out.strip() else {}
    except ValueError:
        raise PbsError("qstat printed output that is not JSON (exit %d): %s" % (rc, out[:200]))
    jobs = doc.get("Jobs") or {}
    states = {}
    for job in ids:
        info = jobs.get(job)
        if isinstance(info, dict) and isinstance(info.get("job_state"), str):
            states[job] = info["job_state"]
        elif re.search(r"Unknown Job Id %s\b" % re.escape(job), err):
            states[job] = "F"
    return states
