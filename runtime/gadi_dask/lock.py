"""The cluster's lock: a symbolic link ``.lock`` whose target is its owner, ``<pid> <host> <until> <client>``.

Making a link is atomic (on NFS and Lustre too) and carries the owner in the same step: there is never a lock
without an owner, and a short target needs no data block, so a full home can still be locked. Broken at once when
its deadline has passed or its owner process on this host is gone. A directory ``.lock`` with an ``owner`` file is
the lock of an older gadi-dask and is honoured the same way.
"""
import errno
import os
import shutil
import socket
import time

from .common import pid_alive

LOCK_DIR = ".lock"
# An older gadi-dask's directory lock without an owner file: its maker may be between mkdir and write.
UNOWNED_GRACE = 120
FILESYSTEM_REFUSED = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)


class LockBusy(Exception):
    def __init__(self, owner):
        Exception.__init__(self, owner)
        self.owner = owner


class LockUnavailable(Exception):
    """The filesystem refused to make the lock (full, over quota, read-only): nobody can change the cluster."""

    def __init__(self, path, cause):
        Exception.__init__(self, "cannot make the lock %s: %s" % (path, getattr(cause, "strerror", None) or cause))
        self.cause = cause


class ClusterLock(object):
    def __init__(self, cdir, client, ttl):
        self.path = os.path.join(cdir, LOCK_DIR)
        self.client = " ".join(str(client).split())
        self.ttl = ttl
        self.mine = None  # the owner text this process wrote

    @property
    def held(self):
        return self.mine is not None

    def _owner(self):
        """The owner text, "" for an older lock without one, None when there is no lock any more."""
        try:
            return os.readlink(self.path)
        except FileNotFoundError:
            return None
        except OSError:
            pass  # a directory: an older gadi-dask's lock
        try:
            with open(os.path.join(self.path, "owner"), encoding="utf-8", errors="replace") as f:
                return f.read().strip()
        except FileNotFoundError:
            return "" if os.path.isdir(self.path) else None
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
        try:
            return time.time() - os.lstat(self.path).st_mtime > UNOWNED_GRACE
        except OSError:
            return False

    def _break(self, owner):
        """Moves the stale lock aside (only one breaker wins the rename) and removes it; puts back a lock that turns
        out to be someone else's fresh one."""
        aside = "%s.stale-%d" % (self.path, os.getpid())
        try:
            os.rename(self.path, aside)
        except OSError:
            return
        try:
            moved = os.readlink(aside)
        except OSError:
            moved = owner  # an older directory lock
        if moved != owner:
            try:
                os.rename(aside, self.path)
                return
            except OSError:
                pass
        if os.path.isdir(aside) and not os.path.islink(aside):
            shutil.rmtree(aside, ignore_errors=True)
        else:
            try:
                os.remove(aside)
            except OSError:
                pass

    def _make(self):
        base = "%d %s %d" % (os.getpid(), socket.gethostname(), int(time.time() + self.ttl))
        try:
            os.symlink("%s %s" % (base, self.client), self.path)
            return "%s %s" % (base, self.client)
        except OSError as e:
            if e.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
        # A long target may need a data block the full disk lacks; the short one fits in the inode.
        os.symlink(base, self.path)
        return base

    def acquire(self, wait_seconds):
        deadline = time.time() + max(0.0, wait_seconds)
        while True:
            try:
                self.mine = self._make()
                return
            except FileExistsError:
                pass
            except OSError as e:
                if e.errno in FILESYSTEM_REFUSED:
                    raise LockUnavailable(self.path, e)
                raise
            owner = self._owner()
            if owner is None:
                continue  # released meanwhile
            if self._stale(owner):
                self._break(owner)
                continue
            if time.time() >= deadline:
                raise LockBusy(owner)
            time.sleep(0.2)

    def release(self):
        if self.mine is not None:
            try:
                if os.readlink(self.path) == self.mine:
                    os.remove(self.path)
            except OSError:
                pass  # a read-only home: the next agent finds its owner gone and breaks it at once
            self.mine = None
