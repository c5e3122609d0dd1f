"""The attributes qstat reports for a job, a sub-job or an array parent, in the server's order."""

from .ids import depend_text
from .procs import resources_used, running_usage
from .state import spool_path, units
from .values import compress_indices, ctime_str


def display_state(job, unit, kind):
    if kind == "sub":
        if unit["state"] == "X":
            return "F" if job["state"] == "F" else "X"
        return unit["state"]
    return job["state"]


def job_attributes(cfg, job, unit, kind, now, table):
    """The attributes the server reports, in its order: [(name, value)] where value is a string or, for
    resource lists, [(resource, string)]."""
    sub = kind == "sub"
    src = unit if sub else job
    state = display_state(job, unit, kind)
    ran = bool(src.get("stime")) and kind != "parent"
    out = [("Job_Name", job["name"]), ("Job_Owner", job["owner"])]
    if ran:
        used = src.get("resources_used") if src["state"] not in ("R", "E") else None
        used = used or resources_used(job, running_usage(src, spool_path(cfg, job, src, ".RU"), table),
                                      now - src["stime"])
        out.append(("resources_used", sorted(used.items())))
    out += [("job_state", state), ("queue", job["queue"]), ("server", job.get("server") or cfg.server)]
    if job.get("account"):
        out.append(("Account_Name", job["account"]))
    if not sub:
        out.append(("Checkpoint", job["checkpoint"]))
    out.append(("ctime", ctime_str(job["ctime"])))
    if job.get("depend") and not sub:
        out.append(("depend", depend_text(cfg, [(k, [tuple(x) for x in v] if k != "on" else v)
                                                for k, v in job["depend"]])))
    out.append(("Error_Path", sub_path(job, unit, "error_path") if sub else job["error_path"]))
    if ran and src.get("exec_host"):
        out += [("exec_host", src["exec_host"]), ("exec_vnode", src["exec_vnode"])]
    if job.get("group_list"):
        out.append(("group_list", job["group_list"]))
    if not sub:
        out.append(("Hold_Types", job["hold"]))
    out += [("Join_Path", job["join"]), ("Keep_Files", job["keep"]), ("Mail_Points", job["mail_points"])]
    if job.get("mail_users"):
        out.append(("Mail_Users", job["mail_users"]))
    out += [("mtime", ctime_str(max(job["mtime"], src.get("mtime", 0)))),
            ("Output_Path", sub_path(job, unit, "output_path") if sub else job["output_path"]),
            ("Priority", str(job["priority"])), ("qtime", ctime_str(job["qtime"])),
            ("Rerunable", job["rerunable"]), ("Resource_List", list(job["resources"].items()))]
    if src.get("stime"):
        out.append(("stime", ctime_str(src["stime"])))
    if src.get("obittime"):
        out.append(("obittime", ctime_str(src["obittime"])))
    if ran and src.get("session_id"):
        out.append(("session_id", str(src["session_id"])))
    if job.get("shell"):
        out.append(("Shell_Path_List", job["shell"]))
    if ran:
        out.append(("jobdir", job.get("home") or cfg.user_home))
    out += [("substate", str(src["substate"])), ("Variable_List", job["variable_list"])]
    if src.get("comment"):
        out.append(("comment", src["comment"]))
    etime = src.get("etime") if sub else job.get("etime")
    if etime or (sub and job.get("etime")):
        out.append(("etime", ctime_str(etime or job["etime"])))
    if ran:
        out.append(("run_count", str(src.get("run_count", 1))))
    if src.get("stageout_status"):
        out.append(("Stageout_status", str(src["stageout_status"])))
    if src.get("exit_status") is not None:
        out.append(("Exit_status", str(src["exit_status"])))
    if not sub:
        out.append(("Submit_arguments", job["submit_args"]))
    if kind == "parent":
        out.append(("array", "True"))
        out.append(("array_state_count", array_state_count(job)))
        out.append(("array_indices_submitted", job["array"]["range"]))
        out.append(("array_indices_remaining", array_remaining(job)))
    if sub:
        out.append(("array_id", job["id"]))
        out.append(("array_index", str(unit["index"])))
    if state in ("F", "X") and src.get("history_timestamp"):
        out.append(("history_timestamp", str(src["history_timestamp"])))
    out += [("project", job["project"]), ("Submit_Host", job["submit_host"])]
    return out


def sub_path(job, unit, attr):
    return job[attr].replace("^array_index^", str(unit["index"]))


def array_state_count(job):
    subs = units(job)
    if job["state"] == "F":
        if job.get("deleted"):
            expired = sum(1 for u in subs if u.get("never_ran"))
            return "Queued:0 Running:0 Exiting:0 Expired:%d" % expired
        return "Queued:0 Running:0 Exiting:0 Expired:0"
    counts = [sum(1 for u in subs if u["state"] == s) for s in ("Q", "R", "E", "X")]
    return "Queued:%d Running:%d Exiting:%d Expired:%d" % tuple(counts)


def array_remaining(job):
    if job["state"] == "F":
        return "-"
    left = [u["index"] for u in units(job) if u["state"] == "Q"]
    return compress_indices(left) if left else "-"
