"""Job identifiers: `N.server`, `N[].server`, `N[i].server`, as the commands accept and print them."""

import re


def norm_jobid(cfg, text):
    """(seq, index) for '12', '12.gadi-pbs', '12[]', '12[3].host'; index None for a plain job, '' for an
    array as a whole. None when it is not a job identifier."""
    m = re.fullmatch(r"(\d+)(\[(\d*)\])?(\..*)?", text.strip())
    if not m:
        return None
    index = None if m.group(2) is None else m.group(3)
    return int(m.group(1)), index


def id_text(cfg, seq, index):
    if index is None:
        return "%d.%s" % (seq, cfg.server)
    return "%d[%s].%s" % (seq, index, cfg.server)


def unit_id(cfg, job, unit):
    """The id of what runs: the job, or one sub-job of an array."""
    return id_text(cfg, job["seq"], unit["index"]) if job.get("array") else job["id"]


def depend_text(cfg, parsed):
    groups = []
    for kind, ids in parsed:
        if kind == "on":
            groups.append("on:%s" % ids)
        else:
            groups.append(kind + ":" + ":".join("%s@%s" % (id_text(cfg, s, i), cfg.server) for s, i in ids))
    return ",".join(groups)
