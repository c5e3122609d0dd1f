"""The status snapshot: one JSON-able dict describing the scheduler and its workers.

``from_scheduler`` runs inside the launcher (full detail); ``from_identity`` turns the identity of a scheduler
that this runtime did not start into the same shape, with what identity carries.
"""
import hashlib
import json
import time

from .common import now_iso, parse_worker_name


def _memory_used(ws):
    try:
        return int(ws.memory.process)
    except Exception:
        metrics = getattr(ws, "metrics", None) or {}
        return metrics.get("memory")


def worker_entry(ws):
    entry = {
        "name": str(ws.name),
        "address": ws.address,
        "host": ws.host,
        "nthreads": ws.nthreads,
        "memory": {
            "used": _memory_used(ws),
            "managed": int(getattr(ws, "nbytes", 0) or 0),
            "limit": ws.memory_limit or None,
        },
        "processing": len(ws.processing),
        "status": worker_status(ws),
        "lastSeen": now_iso(ws.last_seen) if getattr(ws, "last_seen", None) else None,
    }
    entry.update(parse_worker_name(ws.name))
    return entry


def worker_status(ws):
    return str(getattr(ws.status, "name", ws.status))


def workers_key(seen):
    """A short key of the workers by name and status (op_observe.workers_seen's list): what a long poll of the
    status route compares, so the list itself never travels in a URL."""
    return hashlib.sha1(json.dumps(seen, separators=(",", ":")).encode("utf-8")).hexdigest()[:20]


def workers_seen_in(scheduler):
    """The same list as op_observe.workers_seen makes from this scheduler's status document."""
    return sorted([str(ws.name), worker_status(ws)] for ws in scheduler.workers.values())


def clients_count(scheduler):
    # The scheduler always holds a pseudo-client for fire-and-forget futures; it is nobody.
    return sum(1 for key in scheduler.clients if not str(key).startswith("fire-and-forget"))


def task_counts(scheduler):
    workers = list(scheduler.workers.values())
    return {
        "total": len(scheduler.tasks),
        "processing": sum(len(ws.processing) for ws in workers),
        "queued": len(getattr(scheduler, "queued", ()) or ()),
        "unrunnable": len(getattr(scheduler, "unrunnable", ()) or ()),
    }


def from_scheduler(scheduler, metadata, idle, adaptive):
    workers = sorted((worker_entry(ws) for ws in scheduler.workers.values()), key=lambda w: w["name"])
    sched = {
        "id": str(scheduler.id),
        "address": scheduler.address,
        "threads": sum(ws.nthreads for ws in scheduler.workers.values()),
        "clients": clients_count(scheduler),
        "tasks": task_counts(scheduler),
        "idle": idle,
    }
    for key in ("pid", "host", "startedAt", "pbsJobId", "placement", "session", "runtimeVersion", "daskVersion",
                "distributedVersion", "python"):
        sched[key] = metadata.get(key)
    sched["uptimeSeconds"] = int(time.time() - scheduler.time_started) if getattr(
        scheduler, "time_started", None) else None
    return {
        "ok": True,
        "cluster": metadata.get("cluster"),
        "source": "launcher",
        "time": now_iso(),
        "scheduler": sched,
        "dashboard": metadata.get("dashboard"),
        "workers": workers,
        "adaptive": adaptive,
    }


def from_identity(identity, cluster, metadata, dashboard):
    """Same shape from a plain ``identity`` reply (a scheduler not started by this runtime)."""
    workers = []
    for address, w in sorted((identity.get("workers") or {}).items()):
        metrics = w.get("metrics") or {}
        counts = metrics.get("task_counts") or {}
        entry = {
            "name": str(w.get("name", address)),
            "address": address,
            "host": w.get("host"),
            "nthreads": w.get("nthreads"),
            "memory": {"used": metrics.get("memory"), "managed": metrics.get("managed_bytes"),
                       "limit": w.get("memory_limit") or None},
            "processing": metrics.get("executing", counts.get("executing", 0)),
            "status": w.get("status"),
            "lastSeen": now_iso(w["last_seen"]) if w.get("last_seen") else None,
        }
        entry.update(parse_worker_name(entry["name"]))
        workers.append(entry)
    workers.sort(key=lambda w: w["name"])
    meta = metadata or {}
    return {
        "ok": True,
        "cluster": cluster,
        "source": "identity",
        "time": now_iso(),
        "scheduler": {
            "id": identity.get("id"),
            "address": identity.get("address"),
            "threads": sum(int(w.get("nthreads") or 0) for w in workers),
            "clients": None,
            "tasks": None,
            "idle": None,
            "pid": meta.get("pid"),
            "host": meta.get("host"),
            "startedAt": now_iso(identity["started"]) if identity.get("started") else meta.get("startedAt"),
            "pbsJobId": meta.get("pbsJobId"),
            "placement": meta.get("placement"),
            "session": meta.get("session"),
            "runtimeVersion": meta.get("runtimeVersion"),
            "daskVersion": meta.get("daskVersion"),
            "distributedVersion": meta.get("distributedVersion"),
            "python": meta.get("python"),
            "uptimeSeconds": int(time.time() - identity["started"]) if identity.get("started") else None,
        },
        "dashboard": dashboard,
        "workers": workers,
        "adaptive": None,
    }
