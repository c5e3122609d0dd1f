"""qstat: the job table, the full (-f) text, DSV and JSON layouts, and the -B / -Q server and queue views."""

import getopt
import re
import sys
import time

from .attributes import job_attributes
from .cjson import JsonObject, json_dump, parse_value
from .common import LINE_LIMIT, MAX_ARRAY_SIZE, PBSE_HISTJOBID, PBSE_UNKJOBID, PBSE_UNKQUE, PBS_VERSION, err, pbs_exit
from .ids import id_text, norm_jobid
from .procs import ProcessTable
from .resources import job_ncpus
from .scheduler import schedule
from .state import Store, units
from .supervisor import launch
from .values import size_bytes
from .varlist import varlist_pairs_display


QSTAT_USAGE = (
    "usage: \n"
    "qstat [-f] [-J] [-p] [-t] [-x] [-E] [-F format | -w] [-D delim] [ job_identifier... | destination... ]\n"
    "qstat [-a|-i|-r|-H|-T] [-J] [-t] [-u user] [-n] [-s] [-G|-M] [-1] [-w]\n"
    "\t[ job_identifier... | destination... ]\n"
    "qstat -Q [-f] [-F format] [-D delim] [ destination... ]\n"
    "qstat -q [-G|-M] [ destination... ]\n"
    "qstat -B [-f] [-F format] [-D delim] [ server_name... ]\n"
    "qstat --version\n")


def wrap_attr(name, value):
    """One attribute of `qstat -f`, folded at commas near column 78 as qstat does."""
    out = ["    " + name + " = "]
    start = len(name) + 7
    tokens = [t for t in value.split(",") if t]
    first = True
    for i, tok in enumerate(tokens):
        if len(tok) + start < LINE_LIMIT:
            out.append(tok)
            start += len(tok)
        else:
            if not first:
                out.append("\n\t")
                start = 9
            for ch in tok:
                out.append(ch)
                start += 1
                if start > LINE_LIMIT:
                    start = 8
                    out.append("\n\t")
        if i < len(tokens) - 1:
            first = False
            out.append(",")
    return "".join(out)


def render_full_text(jid, attrs):
    lines = ["Job Id: %s" % jid]
    for name, value in attrs:
        if isinstance(value, list):
            for res, v in value:
                lines.append(wrap_attr("%s.%s" % (name, res), v))
        else:
            lines.append(wrap_attr(name, value))
    return "\n".join(lines) + "\n\n"


def render_dsv(jid, attrs, delim):
    def esc(v):
        return v.replace(delim, "\\" + delim).replace("\n", "\\n").replace("\f", "\\f")
    parts = ["Job Id: %s" % jid]
    for name, value in attrs:
        if isinstance(value, list):
            parts += ["%s.%s=%s" % (name, res, esc(v)) for res, v in value]
        else:
            parts.append("%s=%s" % (name, esc(value)))
    return delim.join(parts) + "\n"


def render_json_job(attrs):
    obj = JsonObject()
    for name, value in attrs:
        if name == "Variable_List":
            obj.append((name, JsonObject((k, parse_value(v) if v is not None else None)
                                         for k, v in varlist_pairs_display(value))))
        elif isinstance(value, list):
            obj.append((name, JsonObject((res, parse_value(v)) for res, v in value)))
        else:
            obj.append((name, parse_value(value)))
    return obj


def trunc(value, width):
    return value[:width - 1] + "*" if len(value) > width else value


def table_row(cfg, jid, attrs, layout):
    a = dict((n, v) for n, v in attrs if not isinstance(v, list))
    used = dict(next((v for n, v in attrs if n == "resources_used"), []))
    short = jid
    first = short.find(".")
    if first >= 0:
        second = short.find(".", first + 1)
        if second >= 0:
            short = short[:second]
    owner = a["Job_Owner"].split("@")[0]
    timeu = used.get("cput", "0")
    if layout == "wide":
        name = a["Job_Name"] if len(a["Job_Name"]) < 15 else a["Job_Name"][:14] + "*"
        return "%-30s %-15s %-15s  %8s %1s %-15s\n" % (trunc(short, 30), name, trunc(owner, 15), trunc(timeu, 8),
                                                     a["job_state"], trunc(a["queue"], 15))
    width = 22 if layout == "incr" else 17
    name = a["Job_Name"] if len(a["Job_Name"]) < 16 else a["Job_Name"][:15] + "*"
    return "%-*s %-16s %-16s  %8s %1s %-16s\n" % (width, trunc(short, width), name, trunc(owner, 16),
                                                 trunc(timeu, 8), a["job_state"], trunc(a["queue"], 16))


TABLE_HEADERS = {
    "normal": "Job id            Name             User              Time Use S Queue\n"
              "----------------  ---------------- ----------------  -------- - -----\n",
    "incr": "Job id                 Name             User              Time Use S Queue\n"
            "---------------------  ---------------- ----------------  -------- - -----\n",
    "wide": "Job id                         Name            User             Time Use S Queue\n"
            "-----------------------------  --------------- ---------------  -------- - ---------------\n",
}


def cnv_size(value):
    """A size for the 6-column Memory field of the alternative display, moved up a unit until it fits."""
    m = re.fullmatch(r"(\d+)([kmgt]?)([bw]?)", value)
    if not m:
        return value
    nval = int(m.group(1))
    magnitude = " kmgt".index(m.group(2) or " ")
    while nval > 9999:
        nval = (nval + 1023) >> 10
        magnitude += 1
    return "%d%s%s" % (nval, " kmgtp?"[magnitude], m.group(3) or "b")


def alt_row(cfg, jid, attrs, opts, incr):
    a = dict((n, v) for n, v in attrs if not isinstance(v, list))
    rl = dict(next((v for n, v in attrs if n == "Resource_List"), []))
    used = dict(next((v for n, v in attrs if n == "resources_used"), []))
    blank = " -- "
    tasks = rl.get("ncpus", blank)
    if tasks == "0":
        tasks = blank
    row = "%-*.*s %-8.8s %-8.8s " % (20 if incr else 15, 20 if incr else 15,
                                     trunc(jid, 20 if incr else 15), trunc(a["Job_Owner"].split("@")[0], 8),
                                     trunc(a["queue"], 8))
    row += "%-10.10s %6.6s %3.3s %3.3s " % (trunc(a["Job_Name"], 10), trunc(a.get("session_id", blank), 6),
                                            trunc(rl.get("nodect", blank), 3), trunc(tasks, 3))
    row += "%6.6s %5.5s %1.1s %5.5s\n" % (cnv_size(rl["mem"]) if "mem" in rl else blank,
                                          rl.get("walltime", blank), a["job_state"],
                                          used.get("walltime", blank))
    if "n" in opts:
        hosts = a.get("exec_host", blank)
        row += "   %s\n" % "+".join(h.split("/")[0].split(".")[0] + ("/" + h.split("/", 1)[1] if "/" in h else "")
                                    for h in hosts.split("+"))
    if "s" in opts and a.get("comment"):
        comment = a["comment"]
        if len(comment) > 74:
            comment = comment[:71] + "..."
        row += "   %s\n" % comment
    return row


def alt_header(cfg, incr):
    text = "\n%s: " % cfg.server
    text += "\n%60s%-7s%-8s%s\n" % (" ", "Req'd", "Req'd", "Elap") if not incr else \
        "\n%65s%-7s%-8s%s\n" % (" ", "Req'd", "Req'd", "Elap")
    if incr:
        text += ("Job ID               Username Queue    Jobname    SessID NDS TSK Memory Time  S Time\n"
                 "-------------------- -------- -------- ---------- ------ --- --- ------ ----- - -----\n")
    else:
        text += ("Job ID          Username Queue    Jobname    SessID NDS TSK Memory Time  S Time\n"
                 "--------------- -------- -------- ---------- ------ --- --- ------ ----- - -----\n")
    return text


def entries_for(cfg, job, with_subjobs):
    """(display id, kind, job, unit) for a job and, when asked, its sub-jobs."""
    if not job.get("array"):
        return [(job["id"], "job", job, job)]
    out = [(job["id"], "parent", job, job)]
    if with_subjobs:
        for unit in units(job):
            out.append((id_text(cfg, job["seq"], unit["index"]), "sub", job, unit))
    return out


def qstat(cfg, argv):
    try:
        opts, operands = getopt.gnu_getopt(argv, "ainpqrstwxu:fGHJMQEBW:T1F:D:")
    except getopt.GetoptError as e:
        if e.opt and "requires argument" in e.msg:
            err("qstat: option requires an argument -- '%s'\n" % e.opt)
        else:
            err("qstat: invalid option -- '%s'\n" % (e.opt or "?"))
        err(QSTAT_USAGE)
        return 2
    flags = set()
    user = None
    fmt = "default"
    delim = "|"
    errflg = 0
    for opt, val in opts:
        o = opt[1]
        if o == "u":
            user = val
            flags.add("u")
        elif o == "F":
            if val.lower() not in ("default", "dsv", "json"):
                errflg += 1
            else:
                fmt = val.lower()
        elif o == "D":
            if fmt == "dsv":
                delim = val
            else:
                errflg += 1
        elif o in "qTGMp1W":
            err("qstat: option -%s is not supported by this emulator\n" % o)
            errflg += 1
        else:
            if (o == "B" and "Q" in flags) or (o == "Q" and "B" in flags) or (o in "BQ" and flags & set("aiuHrns")):
                err("qstat: conflicting options.\n")
                errflg += 1
            flags.add(o)
    alt_modes = flags & set("airH")
    if len(alt_modes) > 1 or (fmt != "default" and "f" not in flags):
        err("qstat: conflicting options.\n")
        errflg += 1
    if "w" in flags and fmt != "default":
        err("qstat: option w cannot be used with -F\n")
        errflg += 1
    if errflg:
        err(QSTAT_USAGE)
        return 2
    full = "f" in flags
    if flags & set("BQ"):
        return qstat_server_or_queue(cfg, "B" if "B" in flags else "Q", operands, full, fmt, delim)
    alt = bool(flags & set("aiuHrns")) and not ("w" in flags and full)
    wide = "w" in flags
    history = "x" in flags or "H" in flags
    incr = cfg.max_seq > 9999999
    layout = "wide" if wide else "incr" if incr else "normal"
    now = int(time.time())
    out = []
    json_jobs = JsonObject()
    any_failed = 0
    # -E: the ids, sorted, go to the server as one list; it answers for those it knows and fails only when it knows
    # none (then qstat reports the last id's error).
    express = "E" in flags
    if express and operands:
        if any(norm_jobid(cfg, o) is None for o in operands):
            err("qstat: Express option can only be used with job ids\n")
            return 1
        operands = sorted(operands, key=lambda o: norm_jobid(cfg, o)[0])
    failures = []

    with Store(cfg) as store:
        launches = schedule(cfg, store)
        table = ProcessTable()

        def selected(job):
            if user and job["user"] != user:
                return False
            if "J" in flags and not job.get("array"):
                return False
            if "i" in flags and job["state"] not in ("E", "H", "Q", "T", "W"):
                return False
            if "r" in flags and job["state"] not in ("R", "S"):
                return False
            if "H" in flags and job["state"] not in ("F", "M", "X"):
                return False
            if not history and job["state"] == "F":
                return False
            return True

        groups = []  # (first operand?, entries)
        if not operands:
            entries = []
            for job in store.ordered():
                if selected(job):
                    entries += entries_for(cfg, job, "t" in flags)
            groups.append(entries)
        for operand in operands:
            ref = norm_jobid(cfg, operand)
            if ref is None:
                queue = operand.split("@")[0]
                entries = []
                for job in store.ordered():
                    if selected(job) and (not queue or job["queue"] == queue):
                        entries += entries_for(cfg, job, "t" in flags)
                groups.append(entries)
                continue
            seq, index = ref
            shown = id_text(cfg, seq, index)
            job = store.jobs.get(seq)
            entry = None
            if job is not None:
                if index is None and not job.get("array"):
                    entry = entries_for(cfg, job, False)
                elif index == "" and job.get("array"):
                    entry = entries_for(cfg, job, "t" in flags)
                elif index not in (None, "") and job.get("array") and index.isdigit() \
                        and str(int(index)) in job["subjobs"]:
                    unit = job["subjobs"][str(int(index))]
                    shown = id_text(cfg, seq, int(index))
                    entry = [(shown, "sub", job, unit)]
            if entry is None:
                failures.append((PBSE_UNKJOBID, "qstat: Unknown Job Id %s\n" % shown))
            elif job["state"] == "F" and not history:
                failures.append((PBSE_HISTJOBID, "qstat: %s Job has finished, use -x or -H to obtain historical job "
                                                 "information\n" % shown))
            else:
                groups.append(entry)
                continue
            if not express:
                err(failures[-1][1])
                any_failed = failures[-1][0]
                groups.append(None)
        if express and failures and not any(groups):
            err(failures[-1][1])
            any_failed = failures[-1][0]

        for gi, entries in enumerate(groups):
            if not entries:
                continue
            rendered = [(jid, job_attributes(cfg, job, unit, kind, now, table))
                        for jid, kind, job, unit in entries]
            header = gi == 0
            if alt:
                if header:
                    out.append(alt_header(cfg, incr))
                out += [alt_row(cfg, jid, attrs, flags, incr) for jid, attrs in rendered]
            elif full:
                for jid, attrs in rendered:
                    if fmt == "json":
                        json_jobs.append((jid, render_json_job(attrs)))
                    elif fmt == "dsv":
                        out.append(render_dsv(jid, attrs, delim))
                    else:
                        out.append(render_full_text(jid, attrs))
            else:
                if header:
                    out.append(TABLE_HEADERS[layout])
                out += [table_row(cfg, jid, attrs, layout) for jid, attrs in rendered]
    launch(cfg, launches)
    if fmt == "json":
        top = JsonObject([("timestamp", now), ("pbs_version", PBS_VERSION), ("pbs_server", cfg.server)])
        if json_jobs:
            top.append(("Jobs", json_jobs))
        out.append(json_dump(top) + "\n")
    sys.stdout.write("".join(out))
    return pbs_exit(any_failed)


def server_counts(jobs):
    counts = {"Transit": 0, "Queued": 0, "Held": 0, "Waiting": 0, "Running": 0, "Exiting": 0, "Begun": 0}
    names = {"T": "Transit", "Q": "Queued", "H": "Held", "W": "Waiting", "R": "Running", "E": "Exiting",
             "B": "Begun"}
    for job in jobs:
        if job["state"] in names:
            counts[names[job["state"]]] += 1
    return counts


def state_count_text(counts):
    return "".join("%s:%d " % (k, v) for k, v in counts.items())


def assigned(jobs):
    """resources_assigned: what running jobs hold."""
    mem_kb, ncpus, nodect = 0, 0, 0
    for job in jobs:
        for unit in units(job):
            if unit["state"] in ("R", "E"):
                ncpus += job_ncpus(job)
                nodect += int(job["resources"].get("nodect", "1"))
                if "mem" in job["resources"]:
                    mem_kb += -(-size_bytes(job["resources"]["mem"]) // 1024)
    return [("mem", "%dkb" % mem_kb if mem_kb else "0gb"), ("ncpus", str(ncpus)), ("nodect", str(nodect))]


def server_attributes(cfg, store):
    jobs = store.ordered()
    return [
        ("server_state", "Active"), ("server_host", cfg.server), ("scheduling", "True"),
        ("total_jobs", str(len(jobs))), ("state_count", state_count_text(server_counts(jobs))),
        ("default_queue", cfg.default_queue), ("log_events", "511"), ("mailer", "/usr/sbin/sendmail"),
        ("mail_from", "adm"), ("query_other_jobs", "True"), ("resources_default", [("ncpus", "1")]),
        ("default_chunk", [("ncpus", "1")]), ("resources_assigned", assigned(jobs)),
        ("scheduler_iteration", "600"), ("flatuid", "True"), ("resv_enable", "True"),
        ("node_fail_requeue", "310"), ("max_array_size", str(MAX_ARRAY_SIZE)), ("resend_term_delay", "5"),
        ("pbs_license_min", "0"), ("pbs_license_max", "2147483647"), ("pbs_license_linger_time", "31536000"),
        ("license_count", "Avail_Global:1000000 Avail_Local:1000000 Used:0 High_Use:0"),
        ("pbs_version", PBS_VERSION), ("eligible_time_enable", "False"), ("job_history_enable", "True"),
        ("max_concurrent_provision", "5"), ("clear_topjob_estimates_enable", "False"),
        ("max_job_sequence_id", str(cfg.max_seq)),
    ]


def queue_attributes(cfg, store, queue):
    jobs = [j for j in store.ordered() if j["queue"] == queue and j["state"] != "F"]
    return [
        ("queue_type", "Execution"), ("total_jobs", str(len(jobs))),
        ("state_count", state_count_text(server_counts(jobs))), ("resources_assigned", assigned(jobs)),
        ("enabled", "True"), ("started", "True"),
    ]


def qstat_server_or_queue(cfg, mode, operands, full, fmt, delim):
    now = int(time.time())
    any_failed = 0
    out = []
    with Store(cfg) as store:
        launches = schedule(cfg, store)
        if mode == "B":
            objects = [(cfg.server, server_attributes(cfg, store))]
        else:
            used = [cfg.default_queue] + sorted({j["queue"] for j in store.ordered()} - {cfg.default_queue})
            wanted = [o.split("@")[0] for o in operands] or used
            objects = []
            for queue in wanted:
                if queue not in cfg.known_queues:
                    err("qstat: Unknown queue %s\n" % queue)
                    any_failed = PBSE_UNKQUE
                    continue
                objects.append((queue, queue_attributes(cfg, store, queue)))
    launch(cfg, launches)
    label = "Server" if mode == "B" else "Queue"
    if full and fmt == "json":
        top = JsonObject([("timestamp", now), ("pbs_version", PBS_VERSION), ("pbs_server", cfg.server)])
        if objects:
            top.append((label, JsonObject((name, render_json_job(attrs)) for name, attrs in objects)))
        out.append(json_dump(top) + "\n")
    elif full:
        for name, attrs in objects:
            if fmt == "dsv":
                out.append(render_dsv(name, attrs, delim).replace("Job Id: ", label + ": ", 1))
            else:
                out.append(render_full_text(name, attrs).replace("Job Id: ", label + ": ", 1))
    elif objects:
        if mode == "B":
            out.append("Server             Max   Tot   Que   Run   Hld   Wat   Trn   Ext Status\n"
                       "---------------- ----- ----- ----- ----- ----- ----- ----- ----- -----------\n")
        else:
            out.append("Queue              Max   Tot Ena Str   Que   Run   Hld   Wat   Trn   Ext Type\n"
                       "---------------- ----- ----- --- --- ----- ----- ----- ----- ----- ----- ----\n")
        for name, attrs in objects:
            a = dict(attrs)
            c = dict(x.split(":") for x in a["state_count"].split())
            counts = [c["Queued"], c["Running"], c["Held"], c["Waiting"], c["Transit"], c["Exiting"]]
            if mode == "B":
                out.append("%-16s %5s %5s %5s %5s %5s %5s %5s %5s %-10s\n" % (
                    trunc(name, 16), "0", a["total_jobs"], *counts, a["server_state"]))
            else:
                out.append("%-16s %5s %5s %3s %3s %5s %5s %5s %5s %5s %5s %-4s\n" % (
                    trunc(name, 16), "0", a["total_jobs"], "yes", "yes", *counts, trunc(a["queue_type"], 4)))
    sys.stdout.write("".join(out))
    return pbs_exit(any_failed)
