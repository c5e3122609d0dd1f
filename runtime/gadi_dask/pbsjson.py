"""Reading PBS Pro's ``-F json`` output, which real servers print with values as they are (raw tabs and newlines,
``\\,`` from Variable_List, stray quotes, bare ``08``): repaired the way src/core/pbs/jsonRepair.ts repairs it (a
test proves both agree), then held to the samples' shape. Anything else is not PBS talking: the caller stops."""
import json
import re

VALID_ESCAPES = set('"\\/bfnrt')
STRUCTURAL = set("{}[],:")
SPACE = set(" \t\n\r")
JSON_NUMBER = re.compile(r"^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$")
HEX4 = re.compile(r"^[0-9a-fA-F]{4}$")


class PbsOutputError(Exception):
    """qstat or qselect printed something that is not what PBS prints."""


def _closes_string(text, at):
    i = at + 1
    while i < len(text) and text[i] in SPACE:
        i += 1
    return i >= len(text) or text[i] in STRUCTURAL


def _copy_string(text, start, out):
    out.append('"')
    i = start + 1
    run = i
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            nxt = text[i + 1] if i + 1 < n else None
            if nxt is not None and (nxt in VALID_ESCAPES or (nxt == "u" and HEX4.match(text[i + 2:i + 6]))):
                i += 2
                continue
            out.append(text[run:i])
            out.append("\\\\")
            i += 1
            run = i
        elif c == '"':
            out.append(text[run:i])
            if _closes_string(text, i):
                out.append('"')
                return i + 1
            out.append('\\"')
            i += 1
            run = i
        elif ord(c) < 0x20:
            out.append(text[run:i])
            out.append("\\u%04x" % ord(c))
            i += 1
            run = i
        else:
            i += 1
    out.append(text[run:i])
    out.append('"')
    return i


def repair_json(text):
    out = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i = _copy_string(text, i, out)
        elif c in SPACE or c in STRUCTURAL:
            out.append(c)
            i += 1
        else:
            j = i
            while j < n and text[j] not in SPACE and text[j] not in STRUCTURAL and text[j] != '"':
                j += 1
            token = text[i:j]
            literal = token in ("true", "false", "null") or JSON_NUMBER.match(token)
            out.append(token if literal else json.dumps(token, ensure_ascii=False))
            i = j
    return "".join(out)


def _excerpt(text, limit=200):
    t = text.strip()
    return t if len(t) <= limit else t[: limit // 2] + " ... " + t[-limit // 2:]


def parse_qstat(text):
    """{job id: attributes} from ``qstat -f -F json``; raises PbsOutputError unless it has the samples' shape."""
    if not text.strip():
        raise PbsOutputError("qstat printed nothing")
    try:
        doc = json.loads(text)
    except ValueError:
        try:
            doc = json.loads(repair_json(text))
        except ValueError:
            raise PbsOutputError("qstat printed something that is not JSON: %r" % _excerpt(text))
    if not isinstance(doc, dict) or not isinstance(doc.get("pbs_version"), str) or "pbs_server" not in doc:
        raise PbsOutputError("qstat printed JSON that is not PBS's job list (no pbs_version/pbs_server): %r"
                             % _excerpt(text))
    jobs = doc.get("Jobs", {})
    if not isinstance(jobs, dict):
        raise PbsOutputError("qstat's Jobs is not an object: %r" % _excerpt(text))
    for job_id, job in jobs.items():
        if not isinstance(job, dict) or not isinstance(job.get("job_state"), str) or not isinstance(
                job.get("Job_Name"), str):
            raise PbsOutputError("qstat's entry for %s has no job_state or Job_Name: %r" % (job_id, _excerpt(text)))
    return jobs


def parse_qselect(text, job_id_re):
    """qselect prints one job id a line (nothing when nothing matches)."""
    ids = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if not job_id_re.match(line):
            raise PbsOutputError("qselect printed a line that is not a job id: %r" % _excerpt(line))
        ids.append(line)
    return ids
