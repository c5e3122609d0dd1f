"""The scheduler in a Gadi persistent session (placement persistent-session): the session started on the login
node when it cannot be reached (`persistent-sessions start -p <project> <name>`), reached with the plain
`ssh <name>.<user>.<project>.ps.gadi.nci.org.au` Gadi's own ssh configuration sets up, and the scheduler started
there by session.sh in a login shell (PBS commands on PATH), with no walltime. The session is never stopped here:
NCI leaves that to its owner."""
import base64
import os
import pwd
import re
import time

from .common import CommandTimeout, OutputTooLarge, run_bounded, shell_join
from .protocol import PROJECT_NAME, SESSION_NAME

HOST_SUFFIX = "ps.gadi.nci.org.au"
START_COMMAND = "persistent-sessions"
# What `persistent-sessions start` prints (NCI's page): the session's id, a blank line, the ssh line.
STARTED = re.compile(r"^session\s+(\S+)\s+running\b")
SSH_LINE = re.compile(r"^\s*ssh\s+([A-Za-z0-9][A-Za-z0-9.-]*)\s*$")
SSH_OPTIONS = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=20"]
# A new session takes a while before it answers ssh.
READY_SECONDS = 90.0


class SessionError(Exception):
    """The session could not be started or reached; the message says what to do."""


def check(session):
    """(name, project) of the config's session, or SessionError for values that cannot name one."""
    session = session if isinstance(session, dict) else {}
    name, project = session.get("name"), session.get("project")
    if not isinstance(name, str) or not SESSION_NAME.match(name):
        raise SessionError("%r cannot name a persistent session: it must start with a letter and hold only letters, "
                           "digits and '-' (at most 63)" % (name,))
    if not isinstance(project, str) or not PROJECT_NAME.match(project):
        raise SessionError("%r is not a Gadi project for the persistent session (lower-case letters and digits, "
                           "such as ab12)" % (project,))
    return name, project


def host_of(name, project, user=None):
    user = user or pwd.getpwuid(os.getuid()).pw_name
    return "%s.%s.%s.%s" % (name, user, project, HOST_SUFFIX)


def parse_start(text):
    """(session id, ssh host) from what `persistent-sessions start` printed; None for either part it lacks."""
    sid = host = None
    for line in str(text).splitlines():
        m = STARTED.match(line.strip())
        if m and sid is None:
            sid = m.group(1)
        m = SSH_LINE.match(line)
        if m and host is None:
            host = m.group(1)
    return sid, host


def ssh_argv(host, remote_argv):
    """ssh to the session: the remote command is one string, so every word is quoted by shell_join."""
    return ["ssh"] + SSH_OPTIONS + [host, shell_join(remote_argv)]


def run_in(host, remote_argv, timeout, stdin_text=None):
    """(rc, stdout, stderr) of a command in the session; rc None when it did not finish in time."""
    try:
        return run_bounded(ssh_argv(host, remote_argv), timeout, stdin_text=stdin_text)
    except CommandTimeout as e:
        return None, e.stdout, "ssh %s did not finish within %ss" % (host, timeout)
    except OutputTooLarge:
        return None, "", "ssh %s printed too much and was stopped" % host


def reachable(host, timeout=30):
    return run_in(host, ["true"], timeout)[0] == 0


def ensure(session, progress=lambda message: None):
    """The session's ssh host, started first when it cannot be reached: {name, project, host, started, id}."""
    name, project = check(session)
    host = host_of(name, project)
    if reachable(host):
        return {"name": name, "project": project, "host": host, "started": False, "id": None}
    progress("Starting the persistent session %s under project %s" % (name, project))
    argv = [START_COMMAND, "start", "-p", project, name]
    try:
        rc, out, err = run_bounded(argv, 120)
    except OSError as e:
        raise SessionError("%s cannot be run on this login node (%s): persistent sessions are a Gadi service; "
                           "use placement job or login elsewhere" % (START_COMMAND, e.strerror or e))
    except (CommandTimeout, OutputTooLarge):
        raise SessionError("%s start did not finish within 120s" % START_COMMAND)
    sid, started_host = parse_start(out)
    if rc != 0 or not started_host:
        raise SessionError("%s start -p %s %s %s: %s" % (
            START_COMMAND, project, name, "exited with status %s" % rc if rc != 0 else "printed no 'ssh <host>' line",
            (out + err).strip()[-600:] or "no output"))
    deadline = time.monotonic() + READY_SECONDS
    while not reachable(started_host):
        if time.monotonic() > deadline:
            raise SessionError("the persistent session %s started (%s) but ssh %s did not answer within %ds" % (
                name, sid, started_host, READY_SECONDS))
        time.sleep(2)
    return {"name": name, "project": project, "host": started_host, "started": True, "id": sid}


def start_scheduler(host, runtime_dir, args, prologue, python, timeout=150):
    """session.sh in a login shell of the session: prologue and python on its stdin, never in argv."""
    stdin = "%s\n%s\n" % (base64.b64encode(prologue.encode()).decode(), base64.b64encode(python.encode()).decode())
    return run_in(host, ["bash", "-l", os.path.join(runtime_dir, "session.sh")] + list(args), timeout, stdin)
