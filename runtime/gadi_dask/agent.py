"""``run.py agent``: the one program the extension talks to on the cluster (started by bootstrap.sh after the
job-script-prologue). It reads one JSON request a line on stdin and answers each with one framed line on stdout
(protocol.py); it serves until stdin ends, so the same loop is the CLI's one-shot call and the editor's session.

A dropped link must never cost a job: SIGHUP is ignored, a dead stdout is noted and the operation goes on to its
end (the journal records everything before any answer is written), and only then does the agent leave.

Stopping is cooperative: stdin is read by a thread, so a `stop` request naming a running request is seen while that
request runs; the operation checks it between PBS actions (never inside one), ends early and answers with what it
did. A dropped link is not a stop: what was asked for is finished and recorded.
"""
import json
import os
import signal
import sys
import threading
import traceback

from .common import Parser
from .protocol import FRAME, OPS, PROTOCOL_VERSION


class Channel(object):
    def __init__(self, out):
        self.out = out
        self.dead = False
        self.lock = threading.Lock()  # the stop answer comes from the reader thread

    def send(self, doc):
        with self.lock:
            self._send(doc)

    def _send(self, doc):
        if self.dead:
            return
        line = "%s %s\n" % (FRAME, json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str))
        try:
            self.out.write(line)
            self.out.flush()
        except (OSError, ValueError):
            # The link is gone. Point stdout at /dev/null so nothing later (exit flush) trips over it.
            self.dead = True
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, self.out.fileno())
            except (OSError, ValueError):
                pass


class Agent(object):
    def __init__(self, channel, work_dir=None):
        self.channel = channel
        self.work_dir = work_dir
        self.current = None  # the id of the request being served
        self.stops = set()  # ids of requests asked to stop
        self.stops_lock = threading.Lock()

    def stop_requested(self):
        """True once the client asked the request being served to stop (checked between PBS actions)."""
        with self.stops_lock:
            return self.current is not None and self.current in self.stops

    def take_stop(self, req):
        """A `stop` request is answered at once, from the reader thread, while the request it names runs.

        Returns True when the line was a stop request (so it is not queued)."""
        if not isinstance(req, dict) or req.get("op") != "stop" or req.get("v") != PROTOCOL_VERSION:
            return False
        target = (req.get("args") or {}).get("request")
        with self.stops_lock:
            self.stops.add(target)
            running = target == self.current
        self.channel.send({"v": PROTOCOL_VERSION, "id": req.get("id"), "ok": True, "stopping": running})
        return True

    def prologue_log(self):
        if not self.work_dir:
            return ""
        try:
            with open(os.path.join(self.work_dir, "prologue.log"), encoding="utf-8", errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def handle(self, line):
        try:
            req = json.loads(line)
        except ValueError:
            self.channel.send({"v": PROTOCOL_VERSION, "id": None, "ok": False, "code": "bad-request",
                               "error": "a request line is not JSON"})
            return
        rid = req.get("id") if isinstance(req, dict) else None
        base = {"v": PROTOCOL_VERSION, "id": rid}
        if not isinstance(req, dict) or req.get("v") != PROTOCOL_VERSION:
            got = req.get("v") if isinstance(req, dict) else None
            self.channel.send(dict(base, ok=False, code="protocol",
                                   error="this agent speaks protocol %d, the request protocol %s" % (PROTOCOL_VERSION, got),
                                   agentProtocol=PROTOCOL_VERSION))
            return
        op = req.get("op")
        if op not in OPS:
            self.channel.send(dict(base, ok=False, code="bad-request", error="unknown operation %r" % (op,)))
            return

        def progress(message):
            self.channel.send(dict(base, progress=str(message)))

        from . import operations

        with self.stops_lock:
            self.current = rid
        try:
            answer = operations.run(op, req.get("args") or {}, progress, self)
        except Exception as e:  # a bug must still get an answer the client can show
            traceback.print_exc()
            answer = {"ok": False, "code": "internal", "error": "%s: %s" % (type(e).__name__, e)}
        finally:
            with self.stops_lock:
                self.current = None
                self.stops.discard(rid)
        self.channel.send(dict(answer, **base))


def read_requests(stream, agent, queue):
    """The reader thread: stop requests are taken at once, every other line is queued; None marks the end."""
    try:
        for line in iter(stream.readline, ""):
            if not line.strip():
                continue
            try:
                req = json.loads(line)
            except ValueError:
                req = None
            if not agent.take_stop(req):
                queue.put(line)
    except (OSError, ValueError):
        pass
    queue.put(None)


def main(argv):
    p = Parser(prog="run.py agent", description="Serve gadi-dask requests on stdin (one JSON document a line).")
    p.add_argument("--work", default=None, help="bootstrap's private directory (prologue log)")
    args = p.parse_args(argv)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    channel = Channel(sys.stdout)
    agent = Agent(channel, args.work)
    try:
        import queue as queues

        lines = queues.Queue()
        threading.Thread(target=read_requests, args=(sys.stdin, agent, lines), daemon=True).start()
        for line in iter(lines.get, None):
            agent.handle(line)
            if channel.dead:
                break
    finally:
        if args.work:
            import shutil

            shutil.rmtree(args.work, ignore_errors=True)
    return 0
