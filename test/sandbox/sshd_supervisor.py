"""Parent of the sandbox's sshd listener, so that a test can stop the listener and start it again on the same port.

usage: sshd_supervisor.py PARENT_PID SSHD_PATH SSHD_ARG...

It is the child subreaper of everything below it: processes the sandbox user's sessions leave behind (nohup'd
schedulers, emulator jobs) are reparented to it and reaped at once, whether or not a listener is running.
Signals are its commands:
  SIGUSR1  stop the listener (SIGTERM, then SIGKILL); open sessions live on, as with a real sshd restart
  SIGUSR2  start the listener (a no-op while one runs); it writes its own PidFile when it listens
  SIGTERM  stop the listener and exit (also sent by the kernel when the parent test process dies)
Standard library only; the listener's output goes wherever the supervisor's stdout/stderr go.
"""
import ctypes
import os
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
PR_SET_PDEATHSIG = 1
HANDLED = {signal.SIGCHLD, signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM, signal.SIGINT, signal.SIGHUP}


def reap():
    """Reaps every exited child; returns their pids."""
    gone = set()
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return gone
        if pid == 0:
            return gone
        gone.add(pid)


def stop(listener, sig, grace):
    if listener is None:
        return None
    try:
        os.kill(listener, sig)
    except ProcessLookupError:
        return None
    deadline = time.monotonic() + grace
    while True:
        if listener in reap():
            return None
        if time.monotonic() > deadline:
            os.kill(listener, signal.SIGKILL)
            deadline = float("inf")
        time.sleep(0.005)


def main(argv):
    parent, sshd = int(argv[0]), argv[1:]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    # Commands are taken one at a time with sigwaitinfo; the listener starts with a clean mask.
    signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)
    if os.getppid() != parent:
        return 0  # the test process died before the death signal was armed
    listener = None
    start = True
    while True:
        if start and listener is None:
            listener = os.posix_spawn(sshd[0], sshd, os.environ, setsigmask=set(), setsigdef=HANDLED)
        start = False
        info = signal.sigwaitinfo(HANDLED)
        if info.si_signo == signal.SIGCHLD:
            if listener in reap():
                listener = None
        elif info.si_signo == signal.SIGUSR1:
            listener = stop(listener, signal.SIGTERM, 2.0)
        elif info.si_signo == signal.SIGUSR2:
            start = True
        else:
            stop(listener, signal.SIGKILL, 0)
            return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
