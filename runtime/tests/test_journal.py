"""journal.jsonl: a record is whole or absent (short writes, a full disk), a torn tail is cut off before the next
append; the lock carries its owner in one step and a dead owner's lock is broken at once; an intent is refused only
once no qsub of it can land."""
import errno
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from unittest import mock

from gadi_dask import inflight, journal as journal_module
from gadi_dask.journal import JOURNAL_FILE, Journal, JournalWriteError
from gadi_dask.lock import LOCK_DIR, ClusterLock, LockBusy


class JournalTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)
        self.path = os.path.join(self.dir, JOURNAL_FILE)

    def text(self):
        with open(self.path, "rb") as f:
            return f.read()

    def test_a_torn_tail_is_cut_off_before_the_next_record(self):
        j = Journal(self.dir)
        j.record("submitted", id="1.pbs", role="worker", name="demo-00000001")
        with open(self.path, "ab") as f:
            f.write(b'{"at":')  # a write cut short by a power cut
        j = Journal(self.dir)
        self.assertEqual(len(j.warnings), 1)
        j.record("submitted", id="2.pbs", role="worker", name="demo-00000002")
        lines = self.text().decode().splitlines()
        self.assertEqual([json.loads(x)["id"] for x in lines], ["1.pbs", "2.pbs"])
        self.assertEqual(sorted(Journal(self.dir).jobs), ["1.pbs", "2.pbs"])
        self.assertTrue(any("torn" in w for w in j.warnings))

    def test_a_byte_that_is_not_utf8_spoils_only_its_own_text(self):
        with open(self.path, "wb") as f:
            f.write(b'{"op":"refused","name":"demo-00000001","reason":"qsub: caf\xe9","at":1}\n')
            f.write(b'{"op":"submitted","id":"2.pbs","role":"worker","name":"demo-00000002","at":2}\n')
        j = Journal(self.dir)
        self.assertEqual(list(j.jobs), ["2.pbs"])
        self.assertEqual(j.warnings, [])

    def test_a_journal_of_one_torn_line_is_emptied_then_appended(self):
        with open(self.path, "wb") as f:
            f.write(b'{"op":"submitted","id":"1.pbs"' + b"x" * 5000)
        Journal(self.dir).record("submitted", id="3.pbs", role="worker", name="demo-00000003")
        self.assertEqual(list(Journal(self.dir).jobs), ["3.pbs"])

    def test_short_writes_are_completed(self):
        real = os.write
        with mock.patch.object(journal_module.os, "write", side_effect=lambda fd, b: real(fd, b[:7])):
            Journal(self.dir).record("submitted", id="4.pbs", role="worker", name="demo-00000004")
        self.assertEqual(list(Journal(self.dir).jobs), ["4.pbs"])

    def test_a_full_disk_leaves_the_file_as_it_was_and_says_which_record(self):
        j = Journal(self.dir)
        j.record("submitted", id="5.pbs", role="worker", name="demo-00000005")
        before = self.text()
        real = os.write
        calls = []

        def full(fd, data):
            calls.append(len(data))
            if len(calls) == 1:
                return real(fd, data[:10])  # some of it fits
            raise OSError(errno.ENOSPC, "No space left on device")

        with mock.patch.object(journal_module.os, "write", side_effect=full):
            with self.assertRaises(JournalWriteError) as caught:
                j.record("submitted", id="6.pbs", role="worker", name="demo-00000006")
        self.assertIn("No space left on device", str(caught.exception))
        self.assertEqual(caught.exception.rec["id"], "6.pbs")
        self.assertEqual(self.text(), before, "no half record left behind")
        self.assertNotIn("6.pbs", j.jobs)

    def test_keep_going_holds_an_unwritten_record_in_memory_with_a_warning(self):
        j = Journal(self.dir)
        j.keep_going = True
        with mock.patch.object(journal_module.os, "write", side_effect=OSError(errno.EROFS, "Read-only file system")):
            j.record("submitted", id="7.pbs", role="worker", name="demo-00000007")
        self.assertIn("7.pbs", j.jobs)
        self.assertTrue(any("Read-only" in w for w in j.warnings))

    def test_an_intent_keeps_where_its_qsub_runs_through_compaction(self):
        j = Journal(self.dir)
        j.intent("demo-0000000a", "worker", 1234.5)
        j.record("submitted", id="8.pbs", role="worker", name="demo-00000008")
        j.record("finished", id="8.pbs", at=1.0)
        self.assertTrue(j.compact())
        intent = Journal(self.dir).intents["demo-0000000a"]
        self.assertEqual((intent["host"], intent["pid"], intent["until"]), (socket.gethostname(), os.getpid(), 1234.5))

    def test_a_failed_compaction_leaves_the_journal_and_no_temp_file(self):
        j = Journal(self.dir)
        j.record("submitted", id="9.pbs", role="worker", name="demo-00000009")
        j.record("finished", id="9.pbs", at=1.0)
        before = self.text()
        with mock.patch.object(journal_module.os, "fsync", side_effect=OSError(errno.ENOSPC, "No space left on device")):
            self.assertFalse(j.compact())
        self.assertEqual(self.text(), before)
        self.assertEqual(os.listdir(self.dir), [JOURNAL_FILE])


class LockTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)

    def test_the_owner_comes_with_the_lock_and_a_second_waits(self):
        a = ClusterLock(self.dir, "cli one", 600)
        a.acquire(0)
        self.assertTrue(os.readlink(os.path.join(self.dir, LOCK_DIR)).startswith("%d " % os.getpid()))
        with self.assertRaises(LockBusy):
            ClusterLock(self.dir, "cli two", 600).acquire(0.3)
        a.release()
        self.assertFalse(os.path.lexists(os.path.join(self.dir, LOCK_DIR)))

    def test_a_dead_owner_on_this_host_is_broken_at_once(self):
        p = subprocess.Popen([sys.executable, "-c", "pass"])
        p.wait()
        os.symlink("%d %s %d cli" % (p.pid, socket.gethostname(), time.time() + 600), os.path.join(self.dir, LOCK_DIR))
        started = time.monotonic()
        ClusterLock(self.dir, "cli", 600).acquire(0)
        self.assertLess(time.monotonic() - started, 1)

    def test_an_older_directory_lock_of_a_dead_owner_is_broken_at_once(self):
        p = subprocess.Popen([sys.executable, "-c", "pass"])
        p.wait()
        os.mkdir(os.path.join(self.dir, LOCK_DIR))
        with open(os.path.join(self.dir, LOCK_DIR, "owner"), "w") as f:
            f.write("%d %s %d cli\n" % (p.pid, socket.gethostname(), time.time() + 600))
        lock = ClusterLock(self.dir, "cli", 600)
        lock.acquire(0)
        self.assertTrue(os.path.islink(os.path.join(self.dir, LOCK_DIR)))
        self.assertEqual(sorted(os.listdir(self.dir)), [LOCK_DIR])


class SettleTest(unittest.TestCase):
    def test_an_intent_without_a_running_qsub_is_settled(self):
        self.assertFalse(inflight.settle("demo-deadbeef", {"role": "worker", "host": socket.gethostname(),
                                                            "until": time.time() + 100}))

    def test_a_running_qsub_of_the_intent_is_waited_for(self):
        name = "demo-%08x" % os.getpid()
        q = subprocess.Popen(["timeout", "5", "sh", "-c", "sleep 1", "qsub", "-N", name], start_new_session=True)
        # A process that only inherited a qsub's argv (a forking client) is not a qsub in flight.
        other = subprocess.Popen(["sh", "-c", "sleep 3", "qsub", "-N", name], start_new_session=True)
        self.addCleanup(other.wait)
        self.addCleanup(q.wait)
        started = time.monotonic()
        intent = {"role": "worker", "host": socket.gethostname(), "until": time.time() + inflight.LAND_GRACE + 30}
        self.assertTrue(inflight.settle(name, intent, wait=False), "without waiting it stays open")
        self.assertFalse(inflight.settle(name, intent))
        self.assertGreater(time.monotonic() - started, 0.5)

    def test_another_hosts_intent_stays_open_until_its_deadline(self):
        self.assertTrue(inflight.settle("demo-0badf00d", {"role": "worker", "host": "elsewhere", "until": time.time() + 60}))
        self.assertFalse(inflight.settle("demo-0badf00d", {"role": "worker", "host": "elsewhere", "until": time.time() - 1}))


if __name__ == "__main__":
    unittest.main()
