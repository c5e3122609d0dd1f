"""Status probe and cluster listing (contract in runtime/README.md).

``run.py status --name NAME`` prints one snapshot or one error document and exits 0 either way, within
``--timeout`` seconds whatever happens (a watchdog thread prints a timeout document and exits).
The fast path is an HTTP GET of the launcher's status route on the dashboard port and needs only the standard
library; ``distributed`` is imported only when that path is not available.
"""
import asyncio
import http.client
import json
import os
import socket
import sys
import threading
import time
from urllib.parse import urlencode

from . import __version__
from .common import (
    ADAPT_REQUEST_FILE, METADATA_FILE, SCHEDULER_FILE, Parser, check_name, cluster_dir, emit, is_our_process,
    read_json, root_dir, tcp_reachable,
)

#: Where the scheduler (scheduler.py) serves the runtime's status beside its dashboard.
STATUS_ROUTE = "/gadi-dask/status.json"


def _error(code, message, cluster, **extra):
    doc = {"ok": False, "code": code, "error": message, "cluster": cluster}
    doc.update(extra)
    return doc


def _not_running_message(name, meta):
    if isinstance(meta, dict) and meta.get("state") in ("stopped", "failed"):
        why = meta.get("stopReason") or meta.get("error") or "no reason recorded"
        return "cluster %s is not running: it %s at %s (%s)" % (
            name, meta["state"], meta.get("stoppedAt") or "an unknown time", why)
    return "cluster %s is not running: no scheduler file" % name


# One kept-alive connection per dashboard: an agent that asks every fraction of a second (a `workers` wait) would
# otherwise leave a socket in TIME_WAIT for each question, hundreds a minute on a login node shared by everyone.
_connections = {}
_connections_lock = threading.Lock()


def via_http(dashboard, timeout, cdir, query=""):
    """The status route's document. A direct connection on the cluster network, never through a proxy; through the
    dashboard's door (dashboard_door.py) with the cluster's keys when the cluster is secured."""
    key = (dashboard["host"], int(dashboard["port"]))
    with _connections_lock:
        conn = _connections.pop(key, None)
    for attempt in (0, 1):
        fresh = conn is None
        if fresh and dashboard.get("tls"):
            from .tls import client_context

            conn = http.client.HTTPSConnection(key[0], key[1], timeout=timeout, context=client_context(cdir))
        elif fresh:
            conn = http.client.HTTPConnection(key[0], key[1], timeout=timeout)
        try:
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            conn.request("GET", STATUS_ROUTE + query)
            reply = conn.getresponse()
            body = reply.read()
            if reply.status != 200:
                raise OSError("HTTP %d from the dashboard" % reply.status)
            doc = json.loads(body.decode("utf-8"))
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = None
            if fresh or attempt:
                raise
            continue  # the kept connection had been closed by the server: ask once more on a new one
        if reply.will_close:
            conn.close()
        else:
            with _connections_lock:
                _connections[key] = conn
        return doc


async def _via_rpc(address, name, meta):
    from distributed.core import rpc

    from .snapshot import from_identity
    from .tls import connection_args

    async with rpc(address, connection_args=connection_args(cluster_dir(name), address)) as r:
        try:
            doc = await r.gadi_dask_status()
        except Exception:
            doc = None  # not a scheduler of this runtime (or an older one): fall back to identity
        if isinstance(doc, dict) and doc.get("ok"):
            return doc
        identity = await r.identity()
    dashboard = None
    port = (identity.get("services") or {}).get("dashboard")
    if port:
        host = address.split("://")[-1].rsplit(":", 1)[0].strip("[]")
        dashboard = {"host": host, "port": int(port), "url": "http://%s:%d/status" % (host, int(port))}
    return from_identity(identity, name, meta, dashboard)


def probe(name, timeout, via="auto", seen=None, wait=0.0):
    """The cluster's status document. With `seen` (a workers_key) and `wait`, a scheduler of this runtime answers
    once its workers differ from those, or `wait` seconds later (older ones answer at once)."""
    started = time.time()
    left = lambda: max(0.1, timeout * 0.9 - (time.time() - started))  # noqa: E731
    cdir = cluster_dir(name)
    meta_doc = read_json(os.path.join(cdir, METADATA_FILE))
    meta = meta_doc if isinstance(meta_doc, dict) else None
    if not os.path.isdir(cdir):
        return _error("no-cluster", "no cluster named %s in %s" % (name, os.path.join(root_dir(), "clusters")),
                      name, metadata=None)
    sched_path = os.path.join(cdir, SCHEDULER_FILE)
    sched = read_json(sched_path)
    if not isinstance(sched, dict) or not sched.get("address"):
        if os.path.exists(sched_path):
            return _error("bad-scheduler-file", "%s is not a valid scheduler file" % sched_path, name, metadata=meta)
        return _error("no-scheduler-file", _not_running_message(name, meta), name, metadata=meta)
    address = sched["address"]
    problems = []
    dashboard = meta.get("dashboard") if meta and meta.get("schedulerId") == sched.get("id") else None
    if via in ("auto", "http") and dashboard:
        try:
            query = "?" + urlencode({"seen": seen, "wait": "%.3f" % wait}) if seen and wait > 0 else ""
            doc = via_http(dashboard, (min(left(), 2.0) if via == "auto" else left()) + (wait if query else 0), cdir, query)
            if isinstance(doc, dict) and (doc.get("scheduler") or {}).get("id") == sched.get("id"):
                doc["via"] = "http"
                return doc
            problems.append("the dashboard answered for another scheduler")
        except Exception as e:
            problems.append("dashboard %s:%s: %s" % (dashboard.get("host"), dashboard.get("port"), e))
    elif via == "http":
        problems.append("no dashboard recorded for this scheduler")
    if via in ("auto", "rpc"):
        # A refused connection fails fast here, without paying for importing distributed.
        if not tcp_reachable(address, min(left(), 2.0)):
            problems.append("no connection to %s" % address)
        else:
            try:
                doc = asyncio.run(asyncio.wait_for(_via_rpc(address, name, meta), left()))
                doc["via"] = "rpc"
                return doc
            except asyncio.TimeoutError:
                problems.append("%s did not answer in time" % address)
            except Exception as e:
                problems.append("%s: %s: %s" % (address, type(e).__name__, e))
    stale = None
    if meta and meta.get("host") == socket.gethostname() and meta.get("pid"):
        stale = not is_our_process(meta["pid"])
    return _error("unreachable", "scheduler of cluster %s at %s did not answer: %s" % (name, address,
                  "; ".join(problems)), name, address=address, metadata=meta, stale=stale)


def main(argv):
    p = Parser(prog="run.py status", description="Print one JSON snapshot of a cluster.")
    p.add_argument("--name", required=True)
    p.add_argument("--timeout", type=float, default=5.0, help="hard limit in seconds (default 5)")
    p.add_argument("--via", choices=("auto", "http", "rpc"), default="auto")
    args = p.parse_args(argv)
    check_name(args.name)
    timeout = max(0.5, args.timeout)

    def give_up():
        emit(_error("timeout", "no snapshot within %gs" % timeout, args.name))
        sys.stdout.flush()
        os._exit(0)

    watchdog = threading.Timer(timeout, give_up)
    watchdog.daemon = True
    watchdog.start()
    emit(probe(args.name, timeout, args.via))
    watchdog.cancel()
    return 0


def main_list(argv):
    p = Parser(prog="run.py list", description="List the clusters under ~/.gadi-dask/clusters from their files.")
    p.parse_args(argv)
    base = os.path.join(root_dir(), "clusters")
    try:
        names = sorted(n for n in os.listdir(base) if os.path.isdir(os.path.join(base, n)))
    except FileNotFoundError:
        names = []
    here = socket.gethostname()
    clusters = []
    for name in names:
        cdir = os.path.join(base, name)
        meta = read_json(os.path.join(cdir, METADATA_FILE))
        meta = meta if isinstance(meta, dict) else {}
        alive = None
        if meta.get("host") == here and meta.get("pid") and meta.get("state") in ("starting", "running", "stopping"):
            alive = is_our_process(meta["pid"])
        entry = {key: meta.get(key) for key in (
            "state", "address", "dashboard", "pid", "host", "pbsJobId", "placement", "startedAt", "stoppedAt",
            "stopReason", "runtimeVersion")}
        entry.update(
            name=name,
            schedulerFile=os.path.exists(os.path.join(cdir, SCHEDULER_FILE)),
            adapt=read_json(os.path.join(cdir, ADAPT_REQUEST_FILE)),
            processAlive=alive,
        )
        clusters.append(entry)
    emit({"ok": True, "clusters": clusters})
    return 0


def main_env(argv):
    p = Parser(prog="run.py env", description="Report this runtime's version and the Python it runs on.")
    p.parse_args(argv)
    doc = {"ok": True, "runtimeVersion": __version__, "python": sys.executable,
           "pythonVersion": sys.version.split()[0], "daskVersion": None, "distributedVersion": None}
    try:
        import dask
        import distributed

        doc.update(daskVersion=dask.__version__, distributedVersion=distributed.__version__)
    except Exception as e:  # the environment (module load / venv) lacks Dask: say so, do not crash
        doc.update(ok=False, code="no-dask", error="this python cannot import distributed: %s" % e)
    emit(doc)
    return 0 if doc["ok"] else 1
