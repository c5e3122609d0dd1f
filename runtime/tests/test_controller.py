"""The adaptive controller against a stand-in scheduler and stand-in qsub/qdel/qstat (no Dask, no PBS)."""
import asyncio
import json
import logging
import os
import shutil
import tempfile
import unittest

from gadi_dask import adaptive_controller as ac
from gadi_dask import pbs
from gadi_dask.journal import JOURNAL_FILE
from gadi_dask.adaptive_controller import AdaptiveController, RequestError, parse_request


class FakeWorker:
    def __init__(self, name, address, nthreads=1, processing=0, nbytes=0):
        self.name, self.address, self.nthreads, self.nbytes = name, address, nthreads, nbytes
        self.processing = set(range(processing))


class FakeScheduler:
    def __init__(self, calls):
        self.workers = {}
        self.queued = set()
        self.unrunnable = set()
        self.calls = calls
        self.retire_result = None

    def add(self, name, processing=0, nbytes=0):
        address = "tcp://10.0.0.%d:1" % (len(self.workers) + 1)
        self.workers[address] = FakeWorker(name, address, processing=processing, nbytes=nbytes)
        return address

    async def retire_workers(self, workers, close_workers, remove):
        self.calls.append(("retire", sorted(workers), close_workers))
        if self.retire_result is not None:
            return self.retire_result
        for a in workers:
            self.workers.pop(a, None)
        return {a: {"name": "x"} for a in workers}


class ControllerFixture(unittest.TestCase):
    def setUp(self):
        logging.getLogger("gadi_dask").setLevel(logging.ERROR)  # the warnings are asserted through the state file
        self.dir = tempfile.mkdtemp()
        self.calls = []
        self.next = 100
        self.qstat = {}
        self.qsub_error = None
        saved = (pbs.qdel, pbs.qstat_jobs)

        def qdel(ids, timeout=60):
            self.calls.append(("qdel", list(ids)))
            return {i: "deleted" for i in ids}

        def qstat_jobs(ids, timeout=30):
            self.calls.append(("qstat", list(ids)))
            return dict((i, {"state": self.qstat[i], "errorPath": self.error_path.get(i),
                             "exitStatus": self.exit_status.get(i)}) for i in ids if i in self.qstat)

        self.error_path = {}
        self.exit_status = {}
        pbs.qdel, pbs.qstat_jobs = qdel, qstat_jobs
        self.addCleanup(lambda: setattr(pbs, "qdel", saved[0]) or setattr(pbs, "qstat_jobs", saved[1]))
        self.addCleanup(shutil.rmtree, self.dir)
        self.s = FakeScheduler(self.calls)
        self.c = self.controller()

    def controller(self):
        c = AdaptiveController(self.s, self.dir, "c")
        c.qsub = self.qsub
        return c

    def qsub(self, script, args):
        self.calls.append(("qsub", script, list(args), self.dir))
        if self.qsub_error:
            raise pbs.PbsError(self.qsub_error)
        self.next += 1
        return "%d.gadi-pbs" % self.next

    def request(self, **doc):
        base = {"min": 0, "max": 2, "threadsPerJob": 1, "scaleDownDelay": 0, "cooldown": 0, "qsubArgs": ["-q", "x"]}
        base.update(doc)
        path = os.path.join(self.dir, "adapt.json")
        with open(path, "w") as f:
            json.dump(base, f)
        st = os.stat(path)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1000 * len(self.calls) + 1))  # a fresh stamp

    def step(self, now):
        return asyncio.run(self.c.step(now=now))

    def kinds(self):
        return [c[0] for c in self.calls]

    def state(self):
        with open(os.path.join(self.dir, "adapt-state.json")) as f:
            return json.load(f)



class ControllerTest(ControllerFixture):
    def test_without_adapt_json_nothing_happens_and_no_file_appears(self):
        self.assertIsNone(self.step(1000.0))
        self.assertEqual(self.calls, [])
        self.assertFalse(os.path.exists(os.path.join(self.dir, "adapt-state.json")))

    def test_backlog_submits_the_job_script_with_the_extra_args(self):
        self.request()
        self.s.unrunnable = set(range(5))
        d = self.step(1000.0)
        self.assertEqual(d.submit, 2)
        script = os.path.join(self.dir, "worker.pbs")
        self.assertEqual(self.calls, [("qsub", script, ["-q", "x"], self.dir)] * 2)
        st = self.state()
        self.assertTrue(st["enabled"])
        self.assertEqual([(j["id"], j["state"]) for j in st["jobs"]], [("101.gadi-pbs", "pending"),
                                                                       ("102.gadi-pbs", "pending")])
        self.assertEqual(st["lastAction"]["submitted"], ["101.gadi-pbs", "102.gadi-pbs"])

    def test_workers_of_unknown_jobs_are_adopted(self):
        self.request(max=3, threadsPerJob=2)
        self.s.add("dask-worker-7.gadi-pbs-0", processing=1)
        self.s.add("dask-worker-7.gadi-pbs-1", processing=1)
        self.s.add("someone-else")  # no job id: not a job of ours
        self.step(1000.0)
        jobs = {j["id"]: j for j in self.state()["jobs"]}
        self.assertEqual(list(jobs), ["7.gadi-pbs"])
        self.assertTrue(jobs["7.gadi-pbs"]["adopted"])
        self.assertNotIn("qsub", self.kinds(), "2 tasks on 2 threads of job 7 need no more jobs")

    def test_idle_running_job_is_retired_before_it_is_cancelled(self):
        self.request()
        a = self.s.add("dask-worker-5.gadi-pbs")
        self.step(1000.0)  # adopted, and with no delay configured retired at once
        self.assertEqual(self.calls, [("retire", [a], True), ("qdel", ["5.gadi-pbs"])])
        self.assertEqual(self.state()["jobs"][0]["state"], "retired")

    def test_a_job_whose_data_cannot_move_is_kept(self):
        self.request()
        self.s.add("dask-worker-5.gadi-pbs", nbytes=10)
        self.s.retire_result = {}
        self.step(1000.0)
        self.assertEqual(self.kinds(), ["retire"])
        self.assertIn("could not be moved", self.state()["error"])

    def test_busy_job_is_not_touched(self):
        self.request(max=1)
        self.s.add("dask-worker-5.gadi-pbs", processing=1)
        for t in range(10):
            self.step(1000.0 + t)
        self.assertEqual(self.calls, [])

    def test_qsub_failure_backs_off(self):
        self.request(max=1)
        self.s.unrunnable = {1}
        self.qsub_error = "qsub exited 32: the request breaks a queue limit"
        self.step(1000.0)
        self.step(1005.0)
        self.assertEqual(self.kinds(), ["qsub"])
        self.assertIn("queue limit", self.state()["error"])
        self.qsub_error = None
        self.step(1031.0)
        self.assertEqual(self.kinds(), ["qsub", "qsub"])

    def test_a_job_that_ends_before_any_worker_is_a_failure(self):
        self.request(max=1, qstatInterval=1)
        self.s.unrunnable = {1}
        self.step(1000.0)
        self.qstat["101.gadi-pbs"] = "F"
        self.step(1002.0)
        self.assertEqual(self.state()["jobs"][0]["state"], "gone")
        self.assertIn("ended before any worker", self.state()["error"])
        self.step(1004.0)
        self.assertEqual(self.kinds().count("qsub"), 1, "no resubmission during the back-off")

    def test_a_job_the_user_cancelled_is_no_failure_and_no_longer_counted(self):
        self.request(max=1, qstatInterval=1)
        self.s.unrunnable = {1}
        self.step(1000.0)
        with open(os.path.join(self.dir, "adapt-cancelled"), "w") as f:
            f.write("101.gadi-pbs\n")
        self.qstat["101.gadi-pbs"] = "F"
        self.s.unrunnable = set()
        self.step(1002.0)
        st = self.state()
        self.assertEqual(st["jobs"][0]["state"], "cancelled")
        self.assertIsNone(st["error"])
        self.assertNotIn("qstat", self.kinds(), "a cancelled job is not asked after")
        self.s.unrunnable = {1}
        self.step(1004.0)
        self.assertEqual(self.kinds().count("qsub"), 2, "demand again: a new job, without a back-off")

    def test_queued_job_counts_and_stays_while_qstat_says_queued(self):
        self.request(max=1, qstatInterval=1)
        self.s.unrunnable = {1, 2, 3}
        self.step(1000.0)
        self.qstat["101.gadi-pbs"] = "Q"
        for t in range(2, 40, 2):
            self.step(1000.0 + t)
        self.assertEqual(self.kinds().count("qsub"), 1)
        self.assertNotIn("qdel", self.kinds())

    def test_removing_adapt_json_stops_adapting_and_leaves_jobs(self):
        self.request()
        self.s.add("dask-worker-5.gadi-pbs", processing=1)
        self.step(1000.0)
        os.remove(os.path.join(self.dir, "adapt.json"))
        self.s.workers["tcp://10.0.0.1:1"].processing = set()
        self.step(1001.0)
        self.step(1002.0)
        self.assertEqual(self.calls, [])
        self.assertFalse(self.state()["enabled"])

    def test_invalid_request_disables_with_a_reason(self):
        self.request(min=3, max=1)
        self.s.unrunnable = {1}
        self.step(1000.0)
        self.assertEqual(self.calls, [])
        st = self.state()
        self.assertFalse(st["enabled"])
        self.assertIn("min", st["error"])

    def test_shutdown_cancels_the_jobs_it_knows(self):
        self.request()
        self.s.unrunnable = {1, 2}
        self.step(1000.0)
        ids = asyncio.run(self.c.shutdown())
        self.assertEqual(ids, ["101.gadi-pbs", "102.gadi-pbs"])
        self.assertEqual(self.calls[-1], ("qdel", ["101.gadi-pbs", "102.gadi-pbs"]))
        self.assertFalse(self.state()["enabled"])

    def test_a_new_launcher_keeps_counting_queued_jobs_of_the_previous_one(self):
        self.request(max=1)
        self.s.unrunnable = {1}
        self.step(1000.0)
        again = AdaptiveController(FakeScheduler(self.calls), self.dir)
        self.assertEqual(again.live_job_ids(), ["101.gadi-pbs"])


class HoldTest(ControllerFixture):
    """Scale's fixed size: min = max, replaced whatever ends a job, successors ahead of retirement."""

    def hold(self, n, **doc):
        self.request(min=n, max=n, hold=True, cooldown=0, scaleDownDelay=0, **doc)

    def start(self, jid):
        self.s.add("dask-worker-%s" % jid)

    def stop(self, jid, state="F"):
        for address, ws in list(self.s.workers.items()):
            if ws.name == "dask-worker-%s" % jid:
                del self.s.workers[address]
        self.qstat[jid] = state

    def test_a_job_deleted_by_hand_is_replaced_at_the_next_step(self):
        self.hold(2, submitted=["1.gadi-pbs", "2.gadi-pbs"])
        self.start("1.gadi-pbs")
        self.start("2.gadi-pbs")
        self.step(1000.0)
        self.assertNotIn("qsub", self.kinds())
        self.stop("2.gadi-pbs", "E")  # qdel by hand: PBS is ending it
        self.step(1005.0)
        self.assertEqual(self.kinds().count("qsub"), 1)
        st = self.state()
        self.assertTrue(st["hold"])
        self.assertEqual((st["running"], st["queued"], st["replacementsQueued"]), (1, 1, 1))
        self.assertEqual([j["replaces"] for j in st["jobs"] if j["id"] == "101.gadi-pbs"], ["2.gadi-pbs"])

    def test_each_job_gets_one_successor_a_queue_wait_before_it_retires(self):
        # Lifetime 600 s, stagger 30 s: the earliest retirement is 570 s after the first worker connected.
        self.hold(2, expiry={"lifetime": 600, "stagger": 30, "walltime": 900})
        self.step(1000.0)
        self.assertEqual(self.kinds().count("qsub"), 2)
        self.start("101.gadi-pbs")
        self.start("102.gadi-pbs")
        self.step(1040.0)  # 40 s of queue wait seen: the lead is 60 s
        st = self.state()
        self.assertEqual((st["running"], st["handoverLead"], st["queueWaits"]), (2, 60, [40.0, 40.0]))
        self.assertEqual(st["nextExpiry"], ac.now_iso(1040.0 + 570))
        self.step(1040.0 + 570 - 61)
        self.assertEqual(self.kinds().count("qsub"), 2, "not yet: more than the lead before the retirement")
        self.step(1040.0 + 570 - 59)
        self.assertEqual(self.kinds().count("qsub"), 4, "one successor for each job")
        for t in range(1, 40):
            self.step(1040.0 + 570 - 59 + 5 * t)  # the old jobs retire, the successors start
            if t == 5:
                self.stop("101.gadi-pbs")
                self.stop("102.gadi-pbs")
                self.start("103.gadi-pbs")
                self.start("104.gadi-pbs")
        self.assertEqual(self.kinds().count("qsub"), 4, "N jobs per walltime crossed, never 2N")
        st = self.state()
        self.assertEqual((st["running"], st["handingOver"]), (2, 0))

    def test_the_lead_never_takes_more_than_half_a_job_s_life(self):
        self.hold(1, expiry={"lifetime": 100, "stagger": 10, "walltime": 240})
        self.step(1000.0)
        self.assertEqual(self.state()["handoverLead"], 45, "before any wait: 300 s, at most half of 90 s")
        self.start("101.gadi-pbs")
        self.step(1400.0)  # a wait of 400 s
        self.assertEqual(self.state()["handoverLead"], 45)
        self.step(1400.0 + 90 - 46)
        self.assertEqual(self.kinds().count("qsub"), 1)
        self.step(1400.0 + 90 - 44)
        self.assertEqual(self.kinds().count("qsub"), 2)

    def test_failed_starts_stop_after_three_with_the_job_s_error_text(self):
        self.hold(1, qstatInterval=1)
        errors = os.path.join(self.dir, "errors")
        for n in range(10):
            t = 1000.0 + 100 * n
            self.step(t)
            jid = "%d.gadi-pbs" % self.next
            self.qstat[jid] = "F"
            self.error_path[jid] = errors + jid
            with open(errors + jid, "w") as f:
                f.write("module: command not found\n")
            self.step(t + 2)
        self.assertEqual(self.kinds().count("qsub"), 3, "a prologue that fails is not retried for ever")
        st = self.state()
        self.assertIn("3 jobs in a row ended before any worker connected", st["givenUp"]["reason"])
        self.assertEqual(st["givenUp"]["errorText"], "module: command not found")
        self.assertIn("not holding the target", st["error"])
        self.hold(1, qstatInterval=1)  # the user scales again: a fresh try
        self.step(5000.0)
        self.assertEqual(self.kinds().count("qsub"), 4)
        self.assertIsNone(self.state()["givenUp"])

    def test_a_job_deleted_before_its_worker_was_seen_is_no_failed_start(self):
        self.hold(1, qstatInterval=1, submitted=["1.gadi-pbs"])
        self.step(1000.0)
        self.qstat["1.gadi-pbs"] = "F"
        self.exit_status["1.gadi-pbs"] = 271
        self.step(1011.0)
        st = self.state()
        self.assertEqual((st["failedStarts"], st["backoffUntil"]), (0, None))
        self.assertEqual(self.kinds().count("qsub"), 1, "replaced at once")

    def test_jobs_the_agent_left_out_of_a_new_request_are_no_longer_counted(self):
        # A scheduler killed before it wrote its state leaves its queued jobs in adapt-state.json; the agent cancelled
        # them and submitted new ones: the next launcher must not take the new ones for too many and cancel them.
        self.hold(2, submitted=["1.gadi-pbs", "2.gadi-pbs"])
        self.step(1000.0)
        again = self.controller()
        self.hold(2, submitted=["3.gadi-pbs", "4.gadi-pbs"])
        self.c = again
        self.step(1010.0)
        self.assertNotIn("qdel", self.kinds())
        self.assertNotIn("qsub", self.kinds())
        st = self.state()
        self.assertEqual(sorted(j["id"] for j in st["jobs"] if j["state"] == "pending"), ["3.gadi-pbs", "4.gadi-pbs"])

    def test_a_start_that_works_ends_the_run_of_failures(self):
        self.hold(1, qstatInterval=1)
        for n in range(6):
            t = 1000.0 + 100 * n
            self.step(t)
            jid = "%d.gadi-pbs" % self.next
            if n % 2:
                self.start(jid)
                self.step(t + 1)
            self.stop(jid)
            self.step(t + 20)
        self.assertIsNone(self.state()["givenUp"])

    def test_refused_submissions_stop_after_three(self):
        self.hold(1)
        self.qsub_error = "qsub exited 32: the request breaks a queue limit"
        for n in range(20):
            self.step(1000.0 + 200 * n)
        self.assertEqual(self.kinds().count("qsub"), 3)
        self.assertIn("queue limit", self.state()["givenUp"]["reason"])

    def test_the_controller_s_own_pace_is_half_gadi_s(self):
        self.request(min=30, max=30, hold=True)
        self.step(1000.0)
        self.assertEqual(self.kinds().count("qsub"), ac.SUBMISSIONS_PER_MINUTE)
        self.step(1030.0)
        self.assertEqual(self.kinds().count("qsub"), ac.SUBMISSIONS_PER_MINUTE)
        self.step(1060.0)
        self.assertEqual(self.kinds().count("qsub"), 2 * ac.SUBMISSIONS_PER_MINUTE)

    def test_a_busy_lock_submits_nothing_and_says_nothing(self):
        self.hold(1)

        def busy(script, args):
            raise ac.Busy()

        self.c.qsub = busy
        self.step(1000.0)
        self.assertIsNone(self.state()["error"])
        self.c.qsub = self.qsub
        self.step(1005.0)
        self.assertEqual(self.kinds().count("qsub"), 1)


    def test_a_cancel_made_while_the_step_looked_is_not_replaced(self):
        # The real qsub path: the agent appended to the cancelled list after the step read it, so the job the
        # step saw end was cancelled by the user; journaled_qsub refuses under the lock, before any qsub.
        decided_on = ac.inputs_stamp(self.dir)
        with open(os.path.join(self.dir, ac.ADAPT_CANCELLED_FILE), "a") as f:
            f.write("101.gadi-pbs\n")
        with self.assertRaises(ac.Busy):
            ac.journaled_qsub(self.dir, "c", os.path.join(self.dir, "worker.sh"), [], decided_on)
        self.assertFalse(os.path.exists(os.path.join(self.dir, JOURNAL_FILE)))
        self.assertNotEqual(ac.inputs_stamp(self.dir), decided_on)


class RequestTest(unittest.TestCase):
    def test_defaults(self):
        r = parse_request({"min": 0, "max": 3})
        self.assertEqual((r["jobScript"], r["qsubArgs"], r["interval"], r["scaleDownDelay"], r["cooldown"]),
                         ("worker.pbs", [], 5.0, 120.0, 30.0))

    def test_rejects(self):
        for doc in (None, [], {"min": 0}, {"min": "0", "max": 1}, {"min": 2, "max": 1}, {"min": True, "max": 1},
                    {"min": 0, "max": 1, "qsubArgs": "-q x"}, {"min": 0, "max": 1, "threadsPerJob": 0},
                    {"min": 0, "max": 1, "interval": -1}, {"min": 0, "max": 1, "jobs": [3]}):
            with self.assertRaises(RequestError, msg=repr(doc)):
                parse_request(doc)

    def test_final_states_are_not_capacity(self):
        self.assertNotIn("cancelled", ac.LIVE)
        self.assertIn("pending", ac.LIVE)


if __name__ == "__main__":
    unittest.main()
