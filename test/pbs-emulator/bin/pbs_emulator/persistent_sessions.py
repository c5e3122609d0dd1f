"""A stand-in for Gadi's `persistent-sessions` command: `start [-p <project>] <name>` prints what NCI's page shows
(a session id, a blank line, the `ssh <name>.<user>.<project>.ps.gadi.nci.org.au` line) and makes the session
reachable: one unprivileged sshd of the user, bound to a loopback address of its own, serves every session of the
user, as Gadi's persistent-session nodes serve theirs. The login account's ssh configuration maps
`*.ps.gadi.nci.org.au` to that address and port (the test bed writes it), so the plain `ssh <host>` of Gadi works.

A session is a record in the state directory; it lives while that record and the sshd do. Gadi's page does not show
what starting an existing session prints: the stand-in refuses it, so a caller must look before it starts one.
"""

import json
import os
import re
import subprocess
import sys
import time
import uuid

from .common import Exit, err

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "/usr/bin/ssh-keygen"
# NCI's rule for a session's name.
SESSION_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
PROJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
HOST_SUFFIX = "ps.gadi.nci.org.au"
USAGE = "usage: persistent-sessions start [-p <project>] <name>\n"


def _listen(cfg):
    address = cfg.env.get("PBS_EMULATOR_PS_ADDRESS") or "127.0.0.2"
    port = cfg.env.get("PBS_EMULATOR_PS_PORT") or "2222"
    if not re.match(r"^127\.\d+\.\d+\.\d+$", address) or not port.isdigit():
        err("persistent-sessions: PBS_EMULATOR_PS_ADDRESS must be a loopback address and PBS_EMULATOR_PS_PORT a port\n")
        raise Exit(2)
    return address, port


def _pid_alive(pid_file):
    try:
        with open(pid_file) as f:
            pid = int(f.read().strip())
        os.kill(pid, 0)
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, ValueError, IndexError):
        return False


def _ensure_sshd(cfg, sdir):
    """Starts the sessions' sshd unless it runs; it daemonizes and writes its pid file once it listens."""
    pid_file = os.path.join(sdir, "sshd.pid")
    if _pid_alive(pid_file):
        return
    key = os.path.join(sdir, "host_key")
    if not os.path.exists(key):
        subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", "persistent-session", "-f", key],
                       check=True, stdin=subprocess.DEVNULL)
    address, port = _listen(cfg)
    conf = os.path.join(sdir, "sshd_config")
    with open(conf, "w") as f:
        f.write("\n".join([
            "ListenAddress %s:%s" % (address, port), "PidFile %s" % pid_file, "HostKey %s" % key,
            "PubkeyAuthentication yes", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "UsePAM no", "StrictModes yes", "AuthorizedKeysFile .ssh/authorized_keys", "AllowTcpForwarding no",
            "PrintMotd no", "PrintLastLog no", "UseDNS no", "X11Forwarding no", ""]))
    try:
        os.remove(pid_file)
    except FileNotFoundError:
        pass
    log = os.path.join(sdir, "sshd.log")
    subprocess.run([SSHD, "-f", conf, "-E", log], check=True, stdin=subprocess.DEVNULL)
    deadline = time.time() + 10
    while not _pid_alive(pid_file):
        if time.time() > deadline:
            err("persistent-sessions: the session's sshd did not start (see %s)\n" % log)
            raise Exit(1)
        time.sleep(0.05)


def start(cfg, argv):
    project = cfg.env.get("PROJECT")
    args = list(argv)
    if len(args) >= 2 and args[0] == "-p":
        project = args[1]
        args = args[2:]
    if len(args) != 1:
        err(USAGE)
        raise Exit(2)
    name = args[0]
    if not SESSION_NAME.match(name):
        err("persistent-sessions: invalid session name %r: it must start with a letter and hold only letters, "
            "digits and '-'\n" % name)
        raise Exit(2)
    if not project or not PROJECT.match(project):
        err("persistent-sessions: no valid project (give -p <project>)\n")
        raise Exit(2)
    sdir = os.path.join(cfg.home, "sessions")
    os.makedirs(sdir, mode=0o700, exist_ok=True)
    record = os.path.join(sdir, "%s.json" % name)
    if os.path.exists(record) and _pid_alive(os.path.join(sdir, "sshd.pid")):
        err("persistent-sessions: a session named %s already exists\n" % name)
        raise Exit(1)
    _ensure_sshd(cfg, sdir)
    session = {"id": str(uuid.uuid4()), "name": name, "project": project,
               "host": "%s.%s.%s.%s" % (name, cfg.user, project, HOST_SUFFIX), "started": time.time()}
    with open(record, "w") as f:
        json.dump(session, f)
    sys.stdout.write("session %s running - connect using\n\n  ssh %s\n" % (session["id"], session["host"]))
    return 0


def persistent_sessions(cfg, argv):
    if argv[:1] == ["start"]:
        return start(cfg, argv[1:])
    err(USAGE)
    return 2
