"""Scheduler launcher: ``run.py scheduler --name NAME [options]`` (contract in runtime/README.md).

Starts a distributed Scheduler, publishes the scheduler file and metadata in ~/.gadi-dask/clusters/<name>/,
answers the status and shutdown requests of this runtime, keeps the cluster adaptive when adapt.json asks, stops
after an idle period, and cleans up on SIGTERM/SIGINT (PBS sends SIGTERM at qdel and at the walltime).
"""
import asyncio
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time

from . import RUNTIME_DIR, __version__, tls
from .dashboard_door import door_port, open_door
from .status import STATUS_ROUTE
from .common import (
    LOG_FILE, METADATA_FILE, SCHEDULER_FILE, Parser, UsageError, check_name, cluster_dir, emit, now_iso,
    parse_worker_name, read_json, remove_file, split_address, tcp_reachable, write_json_atomic,
)

log = logging.getLogger("gadi_dask.scheduler")

DEFAULTS = {
    "host": None,
    "interface": None,
    "protocol": None,  # tls with --tls, else tcp
    "tls": False,
    "port": 0,
    "dashboard-address": ":8787",
    "idle-timeout": "3600",
    "placement": None,
    "session": None,  # placement persistent-session: the session's name, project and ssh host
    "wait": 60.0,
}
STATUS_WAIT_MAX = 10  # seconds a status request may wait for the workers to change
CHANGE_STEP = 0.02  # seconds between two looks at the workers while it waits
PLACEMENTS = ("job", "login", "persistent-session")


def parse_duration(value):
    """Seconds from 3600, "3600", "90s", "30m", "1.5h", "2d"; 0, "0", "off" and "never" disable."""
    if isinstance(value, bool):
        raise UsageError("invalid duration %r" % (value,))
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = str(value).strip().lower()
        if text in ("off", "never", "none", ""):
            return 0.0
        m = re.match(r"^(\d+(?:\.\d*)?)\s*(s|sec|m|min|h|hr|d)?$", text)
        if not m:
            raise UsageError("invalid duration %r (use seconds or e.g. 30m, 2h)" % (value,))
        unit = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400}[m.group(2) or "s"]
        seconds = float(m.group(1)) * unit
    if seconds < 0:
        raise UsageError("a duration cannot be negative")
    return seconds


def build_parser():
    p = Parser(prog="run.py scheduler", description="Start the Dask scheduler of a gadi-dask cluster.")
    p.add_argument("--name", required=True, help="cluster name: ~/.gadi-dask/clusters/<name>/")
    p.add_argument("--config", help="JSON file whose keys are these long option names (flags win)")
    p.add_argument("--host", default=None)
    p.add_argument("--interface", default=None, help="network interface to listen on, e.g. ib0")
    p.add_argument("--protocol", default=None, help="tcp (default), tls (the default with --tls), ucx, ...")
    p.add_argument("--tls", choices=("on", "off"), default=None,
                   help="on: new TLS keys for the cluster at each start; only holders of them connect (default off)")
    p.add_argument("--port", type=int, default=None, help="scheduler port; 0 (default) picks a free one")
    p.add_argument("--dashboard-address", default=None, help="[host]:port of the HTTP server (default :8787)")
    p.add_argument("--idle-timeout", default=None, help="stop after this long with no client and no task")
    p.add_argument("--placement", choices=PLACEMENTS, default=None)
    p.add_argument("--detach", action="store_true", help="start in the background, report when it is up")
    p.add_argument("--wait", type=float, default=None, help="with --detach: seconds to wait for start-up")
    return p


def resolve_options(argv):
    args = build_parser().parse_args(argv)
    check_name(args.name)
    from_file = {}
    if args.config:
        from_file = read_json(args.config)
        if not isinstance(from_file, dict):
            raise UsageError("--config %s: not a readable JSON object" % args.config)
        unknown = set(from_file) - set(DEFAULTS)
        if unknown:
            raise UsageError("--config %s: unknown keys %s" % (args.config, ", ".join(sorted(unknown))))
    opts = {}
    for key, default in DEFAULTS.items():
        flag = getattr(args, key.replace("-", "_"), None)  # session comes from --config only
        opts[key] = flag if flag is not None else from_file.get(key, default)
    opts["name"] = args.name
    opts["detach"] = args.detach
    opts["idle-timeout"] = parse_duration(opts["idle-timeout"])
    if opts["placement"] is None:
        opts["placement"] = "job" if os.environ.get("PBS_JOBID") else "login"
    if opts["placement"] not in PLACEMENTS:
        raise UsageError("placement must be one of %s" % ", ".join(PLACEMENTS))
    if opts["session"] is not None and not isinstance(opts["session"], dict):
        raise UsageError("session must be an object")
    if opts["tls"] not in (True, False, "on", "off"):
        raise UsageError("tls must be on or off")
    opts["tls"] = opts["tls"] in (True, "on")
    if opts["protocol"] is None:
        opts["protocol"] = "tls" if opts["tls"] else "tcp"
    elif opts["tls"] and str(opts["protocol"]).split("://")[0] != "tls":
        raise UsageError("--tls needs protocol tls, not %s" % opts["protocol"])
    try:
        opts["port"] = int(opts["port"])
        opts["wait"] = float(opts["wait"])
    except (TypeError, ValueError):
        raise UsageError("port and wait must be numbers")
    return opts


def running_elsewhere(cdir):
    """The address of a live scheduler already published for this cluster, else None."""
    existing = read_json(os.path.join(cdir, SCHEDULER_FILE))
    address = existing.get("address") if isinstance(existing, dict) else None
    if address and tcp_reachable(address, 2.0):
        return address
    return None


class Idle:
    """No client and no task (processing, queued or unrunnable) since ``since``; workers do not count."""

    def __init__(self, timeout):
        self.timeout = timeout
        self.since = None

    def begin(self, now):
        """The clock starts once clients can connect: importing Dask from Lustre can take longer than the timeout."""
        self.since = now

    def update(self, scheduler, now):
        from .snapshot import clients_count, task_counts

        counts = task_counts(scheduler)
        busy = clients_count(scheduler) > 0 or counts["processing"] or counts["queued"] or counts["unrunnable"]
        if busy:
            self.since = None
        elif self.since is None:
            self.since = now

    def expired(self, now):
        return bool(self.timeout) and self.since is not None and now - self.since >= self.timeout

    def as_dict(self):
        stops = self.since + self.timeout if (self.timeout and self.since is not None) else None
        return {
            "timeoutSeconds": self.timeout or None,
            "idleSince": now_iso(self.since) if self.since is not None else None,
            "stopsAt": now_iso(stops) if stops is not None else None,
        }


def dashboard_info(scheduler):
    server = getattr(scheduler, "http_server", None)
    if server is None:
        return None
    host, port = None, getattr(server, "port", None)
    try:
        from distributed.comm.utils import get_tcp_server_addresses

        host, port = get_tcp_server_addresses(server)[0][:2]
    except Exception:
        pass
    if not port:
        return None
    return _dashboard_at(scheduler, host, port)


def _dashboard_at(scheduler, host, port, door=False):
    if host in (None, "", "0.0.0.0", "::"):
        parts = split_address(scheduler.address)
        host = parts[1] if parts else socket.gethostname()
    shown = "[%s]" % host if ":" in host else host
    info = {"host": host, "port": int(port), "url": "%s://%s:%d/status" % ("https" if door else "http", shown, int(port))}
    if door:
        info["tls"] = True  # only with the cluster's keys: the extension's tunnel and the agent's probe have them
    return info


def split_host_port(address):
    """"[host]:port" as --dashboard-address takes it: (host or "", port)."""
    host, _, port = str(address).rpartition(":")
    try:
        return host.strip("[]"), int(port or 0)
    except ValueError:
        raise UsageError("invalid dashboard address %r (use [host]:port)" % (address,))


class Launcher:
    def __init__(self, opts):
        self.opts = opts
        self.name = opts["name"]
        self.cdir = cluster_dir(self.name)
        self.meta_path = os.path.join(self.cdir, METADATA_FILE)
        self.sched_path = os.path.join(self.cdir, SCHEDULER_FILE)
        self.scheduler = None
        self.controller = None
        self.door = None
        self.idle = Idle(opts["idle-timeout"])
        self.stop_event = None
        self.stop_reason = None
        self.meta = {
            "schema": 1,
            "cluster": self.name,
            "state": "starting",
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "placement": opts["placement"],
            "session": opts["session"],
            "pbsJobId": os.environ.get("PBS_JOBID") or None,
            "startedAt": now_iso(),
            "runtimeVersion": __version__,
            "python": sys.executable,
            "pythonVersion": sys.version.split()[0],
            "idleTimeout": opts["idle-timeout"] or None,
            "address": None,
            "schedulerId": None,
            "dashboard": None,
            "log": os.path.join(self.cdir, LOG_FILE),
            "tls": opts["tls"],
        }

    def save_meta(self, **changes):
        self.meta.update(changes)
        write_json_atomic(self.meta_path, self.meta)

    # ---- handlers the status probe and the shutdown command call ------------------------------------------
    def snapshot(self):
        from .snapshot import from_scheduler

        self.idle.update(self.scheduler, time.time())
        adaptive = self.controller.state() if self.controller else None
        return from_scheduler(self.scheduler, self.meta, self.idle.as_dict(), adaptive)

    async def workers_change(self, seen, wait):
        """Returns once the workers by name and status are no longer those of key `seen`, after `wait` seconds (at
        most STATUS_WAIT_MAX), or when the scheduler stops. Looked at every CHANGE_STEP, in this process only."""
        from .snapshot import workers_key, workers_seen_in

        try:
            wait = min(max(float(wait), 0.0), STATUS_WAIT_MAX)
        except ValueError:
            wait = 0.0
        deadline = time.monotonic() + wait
        while (seen and time.monotonic() < deadline and not (self.stop_event and self.stop_event.is_set())
               and workers_key(workers_seen_in(self.scheduler)) == seen):
            await asyncio.sleep(CHANGE_STEP)

    def handle_status(self, **_):
        return self.snapshot()

    async def handle_shutdown(self, timeout=30, retire=True, **_):
        """Retire every worker (so they close cleanly and their jobs end; not when their jobs are being cancelled),
        then stop; report the PBS jobs."""
        s = self.scheduler
        if self.controller:
            self.controller.stopped = True
        names = {str(ws.name): ws.address for ws in s.workers.values()}
        jobs = {parse_worker_name(n)["pbsJobId"] for n in names} - {None}
        jobs.update(self.controller.live_job_ids() if self.controller else ())
        retired = []
        if names and retire:
            try:
                done = await asyncio.wait_for(
                    s.retire_workers(workers=list(names.values()), close_workers=True, remove=True),
                    max(1.0, float(timeout) / 2),
                )
                retired = sorted(str(info.get("name", a)) for a, info in (done or {}).items())
            except Exception as e:
                log.warning("retiring workers before shutdown: %s", e)
        asyncio.get_running_loop().call_soon(self.request_stop, "shutdown command")
        return {
            "ok": True,
            "workers": sorted(names),
            "retired": retired,
            "workerJobIds": sorted(jobs),
            "schedulerJobId": self.meta.get("pbsJobId"),
        }

    def add_http_route(self):
        from tornado import web

        launcher = self

        class StatusHandler(web.RequestHandler):
            async def get(self):
                # ?seen=KEY&wait=SECONDS: answer once the workers differ from those the caller saw (workers_key), or
                # the wait passes: a `workers` wait hears of a worker as it joins instead of asking again and again.
                await launcher.workers_change(self.get_query_argument("seen", None), self.get_query_argument("wait", "0"))
                self.set_header("Content-Type", "application/json")
                self.set_header("Cache-Control", "no-store")
                self.write(json.dumps(launcher.snapshot(), default=str))

        app = getattr(self.scheduler, "http_application", None)
        if app is not None:
            app.add_handlers(r".*$", [(re.escape(STATUS_ROUTE), StatusHandler)])

    # ---- life cycle ---------------------------------------------------------------------------------------
    def request_stop(self, reason):
        if self.stop_reason is None:
            self.stop_reason = reason
            log.info("stopping: %s", reason)
        self.stop_event.set()

    async def watch_idle(self):
        period = min(5.0, max(0.2, (self.idle.timeout or 5.0) / 10))
        while not self.stop_event.is_set():
            now = time.time()
            self.idle.update(self.scheduler, now)
            if self.idle.expired(now):
                self.request_stop("idle for %ds (no client, no task)" % int(self.idle.timeout))
                return
            try:
                await asyncio.wait_for(self.stop_event.wait(), period)
            except asyncio.TimeoutError:
                pass

    async def start(self):
        import dask
        import distributed
        from distributed import Scheduler

        from .adaptive_controller import AdaptiveController

        self.meta.update(daskVersion=dask.__version__, distributedVersion=distributed.__version__)
        self.save_meta()
        o = self.opts
        security = None
        if o["tls"]:
            tls.ensure(self.cdir, self.name)  # the agent made new ones before it started this scheduler
            security = tls.security(self.cdir)
        # Secured, the dashboard listens on loopback only, behind a door that wants the cluster's keys.
        self.scheduler = Scheduler(
            host=o["host"], port=o["port"], interface=o["interface"], protocol=o["protocol"],
            dashboard_address="127.0.0.1:0" if o["tls"] else o["dashboard-address"], dashboard=True, security=security,
        )
        await self.scheduler
        self.scheduler.handlers["gadi_dask_status"] = self.handle_status
        self.scheduler.handlers["gadi_dask_shutdown"] = self.handle_shutdown
        self.add_http_route()
        self.controller = AdaptiveController(self.scheduler, self.cdir, self.name)
        identity = self.scheduler.identity()
        identity["workers"] = {}
        write_json_atomic(self.sched_path, identity)
        dashboard = dashboard_info(self.scheduler)
        if o["tls"] and dashboard:
            host, port = split_host_port(o["dashboard-address"])
            self.door = await open_door(host, port, dashboard["port"], tls.server_context(self.cdir))
            dashboard = _dashboard_at(self.scheduler, host, door_port(self.door), door=True)
        self.save_meta(state="running", address=self.scheduler.address, schedulerId=str(self.scheduler.id),
                       dashboard=dashboard)

    async def stop(self):
        self.save_meta(state="stopping", stopReason=self.stop_reason)
        if self.door is not None:
            self.door.close()
        if self.controller:
            self.controller.stopped = True
        if self.scheduler is not None:
            try:
                await asyncio.wait_for(self.scheduler.close(), 30)
            except Exception as e:
                log.warning("closing the scheduler: %s", e)
        # The scheduler file goes before the slower qdel: PBS follows its SIGTERM with a SIGKILL.
        current = read_json(self.sched_path)
        if isinstance(current, dict) and current.get("id") == self.meta.get("schedulerId"):
            remove_file(self.sched_path)  # a newer scheduler's file is not ours to delete
        cancelled = []
        if self.controller:
            try:
                cancelled = await asyncio.wait_for(self.controller.shutdown(), 20)
            except Exception as e:
                log.warning("cancelling adaptive jobs: %s", e)
        self.save_meta(state="stopped", stoppedAt=now_iso(), cancelledJobs=cancelled)

    async def main(self):
        self.stop_event = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop, "signal %s" % sig.name)
        try:
            await self.start()
        except Exception as e:
            log.exception("scheduler did not start")
            self.save_meta(state="failed", error="%s: %s" % (type(e).__name__, e), stoppedAt=now_iso())
            if self.scheduler is not None:
                await self.scheduler.close()
            emit({"ok": False, "code": "start-failed", "error": self.meta["error"], "metadata": self.meta})
            return 1
        self.idle.begin(time.time())
        emit(dict(self.meta, ok=True, action="started"))
        log.info("scheduler %s running for cluster %s", self.scheduler.address, self.name)
        tasks = [
            asyncio.ensure_future(self.watch_idle()),
            asyncio.ensure_future(self.controller.run(self.stop_event)),
        ]
        finished = asyncio.ensure_future(self.scheduler.finished())
        stop_wait = asyncio.ensure_future(self.stop_event.wait())
        await asyncio.wait([finished, stop_wait], return_when=asyncio.FIRST_COMPLETED)
        if self.stop_reason is None:
            self.stop_reason = "scheduler closed"
        self.stop_event.set()
        await self.stop()
        for t in tasks + [finished, stop_wait]:
            t.cancel()
        log.info("cluster %s stopped: %s", self.name, self.stop_reason)
        return 0


def detach(opts, argv):
    """Start the launcher in its own session with output to scheduler.log; report once it runs or fails."""
    cdir = cluster_dir(opts["name"])
    meta_path = os.path.join(cdir, METADATA_FILE)
    child = [sys.executable, os.path.join(RUNTIME_DIR, "run.py"), "scheduler"]
    child += [a for a in argv if a != "--detach"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(os.path.join(cdir, LOG_FILE), "ab") as logf:
        proc = subprocess.Popen(
            child, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, env=env,
            close_fds=True, start_new_session=True,
        )
    deadline = time.time() + opts["wait"]
    while time.time() < deadline:
        meta = read_json(meta_path)
        if isinstance(meta, dict) and meta.get("pid") == proc.pid:
            if meta.get("state") == "running":
                emit(dict(meta, ok=True, action="started", detached=True))
                return 0
            if meta.get("state") in ("failed", "stopped"):
                emit({"ok": False, "code": "start-failed", "error": meta.get("error") or meta.get("stopReason"),
                      "metadata": meta, "log": log_tail(cdir)})
                return 1
        if proc.poll() is not None:
            emit({"ok": False, "code": "start-failed", "error": "the launcher exited with code %d" % proc.returncode,
                  "log": log_tail(cdir)})
            return 1
        time.sleep(0.1)
    emit({"ok": False, "code": "start-timeout", "pid": proc.pid,
          "error": "no running scheduler after %gs; it may still be starting (pid %d)" % (opts["wait"], proc.pid),
          "log": log_tail(cdir)})
    return 1


def log_tail(cdir, lines=20):
    try:
        with open(os.path.join(cdir, LOG_FILE), "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            return f.read().decode("utf-8", "replace").splitlines()[-lines:]
    except OSError:
        return []


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    opts = resolve_options(argv)
    cdir = cluster_dir(opts["name"])
    os.makedirs(cdir, exist_ok=True)
    address = running_elsewhere(cdir)
    if address:
        meta = read_json(os.path.join(cdir, METADATA_FILE))
        emit({"ok": False, "code": "already-running", "address": address,
              "error": "cluster %s already has a scheduler at %s" % (opts["name"], address), "metadata": meta})
        return 1
    if opts["detach"]:
        return detach(opts, argv)
    # Only our logger: distributed already logs its own records to stderr.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s - %(name)s - %(levelname)s - %(message)s"))
    ours = logging.getLogger("gadi_dask")
    ours.addHandler(handler)
    ours.setLevel(logging.INFO)
    ours.propagate = False
    return asyncio.run(Launcher(opts).main())
