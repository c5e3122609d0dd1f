"""The process that runs one job: its environment, walltime, deletion, output staging and exit record."""

import json
import os
import select
import shutil
import signal
import sys
import time
import traceback

from .config import log
from .ids import unit_id
from .procs import Sampler, kill_session, proc_stat, resources_used, write_usage
from .resources import job_ncpus
from .scheduler import finish_unit, schedule
from .state import Store, find_unit, find_unit_in, spool_path
from .values import parse_time

PR_SET_CHILD_SUBREAPER = 36
from .varlist import varlist_env


def launch(cfg, keys):
    for key in keys:
        spawn_supervisor(cfg, key)


def detach_stdio(keep):
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def spawn_supervisor(cfg, key):
    """Double fork so the supervisor belongs to no caller: an SSH exec channel that ran qsub closes at once.
    qsub waits (briefly) until the job's shell exists, so the job is really running when qsub returns."""
    sys.stdout.flush()
    sys.stderr.flush()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            detach_stdio(keep={w})
            try:
                supervise(cfg, key, w)
            except BaseException:
                code = 1
                log(cfg, "supervisor for %s failed:\n%s" % (key, traceback.format_exc()))
        finally:
            os._exit(code)
    os.close(w)
    os.waitpid(pid, 0)
    deadline = time.monotonic() + 10
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        ready, _, _ = select.select([r], [], [], remaining)
        if ready:
            os.read(r, 1)
            break
    os.close(r)


def job_environment(cfg, job, unit, jobfs, nodefile):
    env = {"PATH": "/bin:/usr/bin"}
    env.update(varlist_env(job["variable_list"]))
    home = job.get("home") or cfg.user_home
    jid = unit_id(cfg, job, unit)
    ncpus = job_ncpus(job)
    env.update({
        "HOME": home, "LOGNAME": job["user"], "USER": job["user"], "SHELL": job.get("shell") or "/bin/bash",
        "ENVIRONMENT": "BATCH", "PBS_ENVIRONMENT": "PBS_BATCH",
        "PBS_JOBID": jid, "PBS_JOBNAME": job["name"], "PBS_QUEUE": job["queue"],
        "PBS_JOBDIR": home, "PBS_NODEFILE": nodefile, "PBS_NODENUM": "0", "PBS_TASKNUM": "1",
        "PBS_MOMPORT": "15003", "PBS_JOBCOOKIE": "%032X" % (job["seq"] * 7919 + (unit.get("index") or 0)),
        "TMPDIR": jobfs, "PBS_JOBFS": jobfs,
        "NCPUS": str(ncpus), "OMP_NUM_THREADS": str(ncpus),
        "PBS_NCPUS": str(ncpus), "PBS_NNODES": job["resources"].get("nodect", "1"),
        "PBS_NGPUS": job["resources"].get("ngpus", "0"),
    })
    if "PBS_O_WORKDIR" not in env:
        env["PBS_O_WORKDIR"] = job["cwd"]
    if job.get("array"):
        env["PBS_ARRAY_INDEX"] = str(unit["index"])
        env["PBS_ARRAY_ID"] = job["id"]
    if job.get("account"):
        env["PBS_ACCOUNT"] = job["account"]
    # The emulator's own settings follow the job, so a job can run qsub/qstat against the same server.
    for name, value in cfg.env.items():
        if name.startswith("PBS_EMULATOR_"):
            env[name] = value
    return env


def stage_path(cfg, job, unit, path_attr, default_suffix):
    _host, _sep, path = job[path_attr].partition(":")
    if job.get("array"):
        path = path.replace("^array_index^", str(unit["index"]))
    if path.endswith("/") or os.path.isdir(path):
        jid = unit_id(cfg, job, unit)
        path = os.path.join(path, jid + default_suffix)
    return path


def become_subreaper():
    """Orphans of the job are reparented to the supervisor, so that they stay in view and are reaped."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (ImportError, OSError, AttributeError):
        pass  # the session still finds most of them


def supervise(cfg, key, notify_fd):
    stop = {"requested": False}

    def on_term(_signum, _frame):
        stop["requested"] = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)

    def notify():
        nonlocal notify_fd
        if notify_fd is not None:
            try:
                os.write(notify_fd, b"1")
                os.close(notify_fd)
            except OSError:
                pass
            notify_fd = None

    store = Store(cfg)
    with store:
        job, unit = find_unit(store, key)
        if unit is None or unit["state"] not in ("R", "E"):
            notify()
            return
        unit["sup_pid"] = os.getpid()
        unit["sup_start"] = (proc_stat(os.getpid()) or [""] * 20)[19]
        store.touch(job)
        job = json.loads(json.dumps(job))
        unit = find_unit_in(job, key)
    jid = unit_id(cfg, job, unit)
    jobfs = os.path.join(store.jobfs_dir, jid)
    os.makedirs(jobfs, mode=0o700, exist_ok=True)
    nodefile = spool_path(cfg, job, unit, ".NF")
    with open(nodefile, "w") as f:
        f.write((job.get("node") or cfg.node) + "\n")
    out_spool = spool_path(cfg, job, unit, ".OU")
    err_spool = spool_path(cfg, job, unit, ".ER")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    if job["join"] == "eo":
        out_fd = err_fd = os.open(err_spool, flags, 0o600)
    else:
        out_fd = os.open(out_spool, flags, 0o600)
        err_fd = out_fd if job["join"] == "oe" else os.open(err_spool, flags, 0o600)
    env = job_environment(cfg, job, unit, jobfs, nodefile)
    workdir = job["cwd"] if job["resources"].get("wd", "0") not in ("0", "false", "False") else \
        (job.get("home") or cfg.user_home)
    # PBS runs the user's login shell; on Gadi that is bash, and a test user's /bin/sh must not change the job.
    shell = job.get("shell") or "/bin/bash"
    if job.get("command"):
        argv = list(job["command"])
    else:
        argv = ["-" + os.path.basename(shell), store.script_path(job["seq"])]

    become_subreaper()
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE, signal.SIGQUIT):
                signal.signal(sig, signal.SIG_DFL)
            os.umask(job.get("umask", 0o077))
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(out_fd, 1)
            os.dup2(err_fd, 2)
            for name in os.listdir("/proc/self/fd"):
                if int(name) > 2:
                    try:
                        os.close(int(name))
                    except OSError:
                        pass
            try:
                os.chdir(workdir)
            except OSError:
                os.write(2, ("PBS: chdir to %s failed\n" % workdir).encode())
                os.chdir("/")
            if job.get("command"):
                os.execvpe(argv[0], argv, env)
            os.execve(shell, argv, env)
        except BaseException as e:
            try:
                os.write(2, ("PBS: cannot run the job: %s\n" % e).encode())
            finally:
                os._exit(127)
    sampler = Sampler(os.getpid(), spool_path(cfg, job, unit, ".RU"))
    sampler.sid = pid
    with store:
        live_job, live = find_unit(store, key)
        if live is not None:
            live["session_id"] = pid
            if live.get("delete_by"):
                stop["requested"] = True
            store.touch(live_job)
    notify()

    walltime = parse_time(job["resources"]["walltime"]) if "walltime" in job["resources"] else None
    deadline = unit["stime"] + walltime if walltime is not None else None
    kill_delay = job.get("kill_delay", cfg.kill_delay)
    reason, kill_at, status, rusage = None, None, None, None
    sample_at = 0
    while status is None:
        # The job's shell, or an orphan of the job: their CPU time counts.
        try:
            wpid, wstatus, wusage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if wpid == pid:
            status, rusage = wstatus, wusage
            break
        if wpid:
            sampler.reaped(wusage)
            continue
        now = time.time()
        if now >= sample_at:
            sampler.sample(now)
            sample_at = now + cfg.sample_seconds
        if reason is None:
            if stop["requested"]:
                reason = "deleted"
            elif deadline is not None and now >= deadline:
                reason = "walltime"
            if reason:
                kill_session(pid, signal.SIGTERM, sampler.members)
                kill_at = now + kill_delay
        elif now >= kill_at:
            kill_session(pid, signal.SIGKILL, sampler.members)
            kill_at = now + 3600
        time.sleep(0.1)
    ended = time.time()
    kill_session(pid, signal.SIGKILL, sampler.members)
    reap_rest(sampler)
    if status is None:
        code = -1
    elif os.WIFSIGNALED(status):
        code = 256 + os.WTERMSIG(status)
    else:
        code = os.WEXITSTATUS(status)
    usage = sampler.usage
    if rusage is not None:
        # The shell's rusage covers every process it reaped, and its largest one's peak RSS (in kb).
        usage = dict(usage, cpu=max(usage["cpu"], rusage.ru_utime + rusage.ru_stime + usage["reaped_cpu"]),
                     mem=max(usage["mem"], rusage.ru_maxrss * 1024))
        usage["vmem"] = max(usage["vmem"], usage["mem"])
    write_usage(sampler.path, usage)
    used = resources_used(job, usage, int(ended) - unit["stime"])
    os.close(out_fd)
    if err_fd != out_fd:
        os.close(err_fd)
    umask = job.get("umask", 0o077)
    # With -j oe both streams are in the .OU spool, with -j eo both are in the .ER spool.
    if job["join"] != "eo":
        deliver(out_spool, stage_path(cfg, job, unit, "output_path", ".OU"), umask)
    if job["join"] != "oe":
        deliver(err_spool, stage_path(cfg, job, unit, "error_path", ".ER"), umask)
    for path in (out_spool, err_spool, nodefile):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    shutil.rmtree(jobfs, ignore_errors=True)
    with store:
        _job, live = find_unit(store, key)
        linger = live.get("linger", 0) if live is not None and live.get("delete_by") else 0
    # A deleted job stays R until the execution host reports its exit, as PBS's server shows it.
    time.sleep(max(0.0, ended + linger - time.time()))
    with store:
        live_job, live = find_unit(store, key)
        launches = []
        if live is not None and live["state"] in ("R", "E"):
            kind = reason or ("deleted" if live.get("delete_by") else "done")
            finish_unit(cfg, store, live_job, live, kind, code, int(time.time()), used)
            launches = schedule(cfg, store)
    launch(cfg, launches)


def reap_rest(sampler):
    """Reaps the job's orphans that were killed with it (briefly: one that escaped the kill is left to init)."""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            wpid, _status, wusage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if wpid:
            sampler.reaped(wusage)
        else:
            time.sleep(0.01)


def deliver(spool, dest, umask):
    """Stage a spooled stream to its final path at the end of the job, as the server's stage-out does."""
    try:
        with open(spool, "rb") as src:
            data = src.read()
    except OSError:
        return
    try:
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    except OSError:
        pass
