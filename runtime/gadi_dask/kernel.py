"""``run.py kernel-server``: a Jupyter server with an IPython kernel next to the cluster (``gadi-dask kernel start``).

It runs inside the kernel's PBS job (or detached on the login node) after the prologue, with this same Python. The
server's token was written by the agent to ``<kernel dir>/token`` (0600); this wrapper puts it into the server's
own config file, ``<kernel dir>/config/jupyter_server_config.json`` (0600), found through JUPYTER_CONFIG_DIR, so it
is never in argv, a PBS attribute or a log. The kernel's environment connects ``Client()`` with no arguments: the
scheduler's address as it is now (DASK_SCHEDULER_ADDRESS) and the cluster's TLS settings (exported by the job
script). When the server listens, where (never the token) goes into ``<kernel dir>/kernel.json``. The server's
``python3`` kernel is this Python with kernel_hook.py run at each start, so ``Client()`` follows the scheduler file
when the scheduler restarts.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time

from .common import (
    SCHEDULER_FILE, Parser, check_name, cluster_dir, exit_status, forward_signals, now_iso, read_json, remove_file,
)

KERNEL_DIR = "kernel"
TOKEN_FILE = "token"
INFO_FILE = "kernel.json"
CONFIG_DIR = "config"
RUNTIME_SUBDIR = "runtime"
#: The server's own kernelspecs (JUPYTER_PATH), which shadow the user's ``python3``.
SHARE_SUBDIR = "share"
HOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernel_hook.py")
#: As the scheduler's: with no client for this long, the server shuts itself down (and the job ends).
DEFAULT_IDLE_TIMEOUT = 3600
#: What a kernel needs from the user's Python, and how to get it (named in the error when one is missing).
NEEDED = (("jupyter_server", "jupyter-server"), ("ipykernel", "ipykernel"))


def missing_packages(python):
    """The modules a kernel needs that ``python`` cannot import: [(module, pip name)]."""
    code = "import importlib.util,sys; print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))"
    try:
        out = subprocess.run([python, "-c", code] + [m for m, _ in NEEDED], capture_output=True, text=True,
                             timeout=120, check=False).stdout
    except (OSError, subprocess.TimeoutExpired) as e:
        return [("python", str(e))]
    absent = set(out.split())
    return [(m, p) for m, p in NEEDED if m in absent]


def listen_host(interface, host):
    """Where the server listens, by the scheduler's rule: the interface's address (ib0 on Gadi), else the host
    given, else loopback (the node itself only)."""
    if interface:
        from distributed.utils import get_ip_interface

        return get_ip_interface(interface)
    return host or "127.0.0.1"


def free_port(host):
    """A port free on ``host`` now. jupyter_server 1.x does not report the port it gets for port 0, but it moves
    on to the next ports when this one is taken meanwhile, and its runtime file names the port it got."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def write_private(path, text):
    tmp = "%s.tmp-%d" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def _server_port(runtime_dir, pid):
    doc = read_json(os.path.join(runtime_dir, "jpserver-%d.json" % pid))
    return doc.get("port") if isinstance(doc, dict) else None


def main(argv):
    p = Parser(prog="run.py kernel-server", description="Serve a Jupyter kernel next to a cluster (inside its job).")
    p.add_argument("--name", required=True, help="the cluster's name")
    p.add_argument("--interface", default=None, help="listen on this interface's address (e.g. ib0)")
    p.add_argument("--host", default=None, help="listen on this address")
    p.add_argument("--idle-timeout", type=float, default=DEFAULT_IDLE_TIMEOUT,
                   help="seconds without activity before the server stops")
    args = p.parse_args(argv)
    name = check_name(args.name)
    kdir = os.path.join(cluster_dir(name), KERNEL_DIR)
    with open(os.path.join(kdir, TOKEN_FILE), encoding="utf-8") as f:
        token = f.read().strip()
    conf = os.path.join(kdir, CONFIG_DIR)
    runtime_dir = os.path.join(kdir, RUNTIME_SUBDIR)
    for d in (conf, runtime_dir):
        os.makedirs(d, mode=0o700, exist_ok=True)
    host = listen_host(args.interface, args.host)
    write_private(os.path.join(conf, "jupyter_server_config.json"), json.dumps({"ServerApp": {
        "token": token, "ip": host, "port": free_port(host), "open_browser": False,
        "shutdown_no_activity_timeout": int(args.idle_timeout),
    }, "MappingKernelManager": {"cull_idle_timeout": int(args.idle_timeout)}}))
    share = os.path.join(kdir, SHARE_SUBDIR)
    write_kernelspec(share)
    scheduler_file = os.path.join(cluster_dir(name), SCHEDULER_FILE)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=conf, JUPYTER_RUNTIME_DIR=runtime_dir, GADI_DASK_SCHEDULER_FILE=scheduler_file,
               JUPYTER_PATH=os.pathsep.join(p for p in (share, os.environ.get("JUPYTER_PATH")) if p))
    sched = read_json(scheduler_file)
    address = sched.get("address") if isinstance(sched, dict) else None
    if address:
        env["DASK_SCHEDULER_ADDRESS"] = address
    info_path = os.path.join(kdir, INFO_FILE)
    remove_file(info_path)
    child = subprocess.Popen([sys.executable, "-m", "jupyter_server", "--no-browser"], env=env,
                             cwd=os.path.expanduser("~"), stdin=subprocess.DEVNULL)

    forward_signals(child, (signal.SIGTERM, signal.SIGINT, signal.SIGHUP))
    try:
        while child.poll() is None:
            port = _server_port(runtime_dir, child.pid)
            if port:
                write_json_private(info_path, {
                    "host": host, "port": int(port), "pbsJobId": os.environ.get("PBS_JOBID"), "pid": child.pid,
                    "node": socket.gethostname(), "startedAt": now_iso()})
                break
            time.sleep(0.2)
        return exit_status(child)
    finally:
        remove_file(info_path)


def write_kernelspec(share):
    """The ``python3`` kernel of this server: this Python, running kernel_hook.py at each (re)start."""
    spec = os.path.join(share, "kernels", "python3")
    os.makedirs(spec, mode=0o700, exist_ok=True)
    write_private(os.path.join(spec, "kernel.json"), json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}", "--IPKernelApp.exec_files=%s" % HOOK],
        "display_name": "Python 3 (next to the cluster)", "language": "python", "metadata": {"debugger": True},
    }))


def write_json_private(path, doc):
    write_private(path, json.dumps(doc))
