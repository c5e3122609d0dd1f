"""``run.py agent``: the one program the extension talks to on the cluster (started by bootstrap.sh after the
job-script-prologue). It reads one JSON request a line on stdin and answers each with one framed line on stdout
(protocol.py); it serves until stdin ends, so the same loop is the CLI's one-shot call and the editor's session.

A dropped link must never cost a job: SIGHUP is ignored, a dead stdout is noted and the operation goes on to its
end (the journal records everything before any answer is written), and only then does the agent leave.
"""
import json
import os
import signal
import sys
import traceback

from .common import Parser
from .protocol import FRAME, OPS, PROTOCOL_VERSION


class Channel(object):
    def __init__(self, out):
        self.out = out
        self.dead = False

    def send(self, doc):
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

        try:
            answer = operations.run(op, req.get("args") or {}, progress, self)
        except Exception as e:  # a bug must still get an answer the client can show
            traceback.print_exc()
            answer = {"ok": False, "code": "internal", "error": "%s: %s" % (type(e).__name__, e)}
        self.channel.send(dict(answer, **base))


def main(argv):
    p = Parser(prog="run.py agent", description="Serve gadi-dask requests on stdin (one JSON document a line).")
    p.add_argument("--work", default=None, help="bootstrap's private directory (prologue log)")
    args = p.parse_args(argv)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    channel = Channel(sys.stdout)
    agent = Agent(channel, args.work)
    try:
        for line in iter(sys.stdin.readline, ""):
            if line.strip():
                agent.handle(line)
            if channel.dead:
                break
    finally:
        if args.work:
            import shutil

            shutil.rmtree(args.work, ignore_errors=True)
    return 0
