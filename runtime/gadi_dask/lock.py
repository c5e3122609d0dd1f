"""The cluster's lock: a directory (mkdir is atomic on NFS and Lustre) with an owner file ``<pid> <host> <until>
<client>``. Broken when its deadline has passed or its owner process on this host is gone."""
import os
import shutil
import socket
import time

from .common import pid_alive

LOCK_DIR = ".lock"


class LockBusy(Exception):
    def __init__(self, owner):
        Exception.__init__(self, owner)
        self.owner = owner


class ClusterLock(object):
    def __init__(self, cdir, client, ttl):
        self.path = os.path.join(cdir, LOCK_DIR)
        self.client = " ".join(str(client).split())
        self.ttl = ttl
        self.held = False

    def _owner(self):
        try:
            with open(os.path.join(self.path, "owner"), encoding="utf-8") as f:
                return f.read().strip()
        except OSError:
            return ""

    def _stale(self, owner):
        parts = owner.split(None, 3)
        if len(parts) >= 3:
            pid, host, until = parts[0], parts[1], parts[2]
            try:
                if time.time() > float(until):
                    return True
            except ValueError:
                return True
            return host == socket.gethostname() and not pid_alive(pid)
        # No owner written yet: its maker may be between mkdir and write; give it two minutes.
        try:
            return time.time() - os.stat(self.path).st_mtime > 120
        except OSError:
            return False

    def acquire(self, wait_seconds):
        deadline = time.time() + max(0.0, wait_seconds)
        while True:
            try:
                os.mkdir(self.path, 0o700)
                break
            except FileExistsError:
                owner = self._owner()
                if self._stale(owner):
                    shutil.rmtree(self.path, ignore_errors=True)
                    continue
                if time.time() >= deadline:
                    raise LockBusy(owner)
                time.sleep(0.2)
        with open(os.path.join(self.path, "owner"), "w", encoding="utf-8") as f:
            f.write("%d %s %d %s\n" % (os.getpid(), socket.gethostname(), int(time.time() + self.ttl), self.client))
        self.held = True

    def release(self):
        if self.held:
            shutil.rmtree(self.path, ignore_errors=True)
            self.held = False
