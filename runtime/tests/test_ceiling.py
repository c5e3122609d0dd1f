"""The per-user job ceiling as apply checks it, and the pace of a large submission."""
import unittest

from gadi_dask.op_apply import _check_ceiling
from gadi_dask.op_common import Refusal
from gadi_dask.pacing import GADI_SUBMISSIONS_PER_MINUTE, Pacer


class Clock(object):
    """Time that passes only when slept."""

    def __init__(self):
        self.now = 1000.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


class PacerTest(unittest.TestCase):
    def submit_all(self, pacer, clock, n):
        times = []
        for _ in range(n):
            self.assertTrue(pacer.wait(lambda: False))
            times.append(clock.now)
            pacer.submitted()
        return times

    def test_the_first_twenty_go_at_once_then_twenty_a_minute(self):
        clock = Clock()
        pacer = Pacer(clock=clock, sleep=clock.sleep)
        times = self.submit_all(pacer, clock, 45)
        self.assertEqual(times[:20], [1000.0] * 20)
        gaps = [b - a for a, b in zip(times[20:], times[21:])]
        self.assertTrue(all(abs(g - 3.0) < 1e-9 for g in gaps), gaps)
        self.assertAlmostEqual(times[-1] - times[0], 25 * 3.0)  # 25 paced qsubs, 3 s apart
        self.assertTrue(all(s <= 0.2 + 1e-9 for s in clock.slept), "waits in short steps, so a stop is seen")

    def test_a_faster_rate_keeps_the_burst_of_twenty(self):
        clock = Clock()
        times = self.submit_all(Pacer(rate=600, clock=clock, sleep=clock.sleep), clock, 23)
        self.assertEqual(times[:20], [1000.0] * 20)
        self.assertAlmostEqual(times[22] - times[20], 0.2)

    def test_a_stop_ends_the_wait_between_two_qsubs(self):
        clock = Clock()
        pacer = Pacer(clock=clock, sleep=clock.sleep)
        self.submit_all(pacer, clock, GADI_SUBMISSIONS_PER_MINUTE)
        pacer.submitted()
        asked = []
        self.assertFalse(pacer.wait(lambda: asked.append(1) or len(asked) > 2))
        self.assertLess(clock.now - pacer.last, 3.0)


class Journal(object):
    def __init__(self, pending=()):
        self.intents = dict((n, {"role": r}) for n, r in pending)

    def pending(self, role):
        return [n for n, i in self.intents.items() if i["role"] == role]


class View(object):
    def __init__(self, workers=(), scheduler=None, others=0):
        self.workers = list(workers)
        self.scheduler = scheduler
        self.others = ["%d.other" % i for i in range(others)]

    def worker_ids(self):
        return self.workers

    def active(self, job_id):
        return True

    def scheduler_job(self):
        return self.scheduler

    def user_live(self):
        return self.workers + ([self.scheduler] if self.scheduler else []) + self.others


JOB = {"placement": "job", "script": "#!/bin/bash\n"}


class CeilingTest(unittest.TestCase):
    def refused(self, args, journal, view):
        with self.assertRaises(Refusal) as r:
            _check_ceiling(args, journal, view)
        return r.exception.doc

    def test_scale_400_is_refused_with_what_it_counted(self):
        doc = self.refused({"maxJobs": 300, "scaleTo": 400, "ensureScheduler": JOB}, Journal(), View())
        self.assertEqual((doc["code"], doc["userJobs"], doc["adding"], doc["ceiling"]), ("ceiling", 0, 401, 300))

    def test_the_users_other_jobs_count(self):
        view = View(workers=["1.s", "2.s"], scheduler="0.s", others=290)
        _check_ceiling({"maxJobs": 300, "scaleTo": 9}, Journal(), view)  # 293 + 7 = 300: at the ceiling
        doc = self.refused({"maxJobs": 300, "scaleTo": 10}, Journal(), view)
        self.assertEqual((doc["userJobs"], doc["adding"]), (293, 8))

    def test_a_qsub_that_may_still_land_counts(self):
        doc = self.refused({"maxJobs": 10, "scaleTo": 10}, Journal([("c-1", "worker")]), View(scheduler="0.s", others=1))
        self.assertEqual((doc["userJobs"], doc["adding"]), (3, 9))

    def test_nothing_new_is_never_refused(self):
        view = View(workers=["%d.s" % i for i in range(5)], scheduler="0.s", others=400)
        _check_ceiling({"maxJobs": 300, "scaleTo": 2, "ensureScheduler": JOB}, Journal(), view)
        _check_ceiling({"maxJobs": 300, "adapt": "off"}, Journal(), view)

    def test_adapt_counts_its_maximum(self):
        view = View(workers=["1.s"], scheduler="0.s", others=250)
        _check_ceiling({"maxJobs": 300, "adapt": {"min": 0, "max": 49}, "ensureScheduler": JOB}, Journal(), view)
        doc = self.refused({"maxJobs": 300, "adapt": {"min": 0, "max": 50}, "ensureScheduler": JOB}, Journal(), view)
        self.assertEqual((doc["userJobs"], doc["adding"]), (252, 49))

    def test_a_bad_ceiling_is_a_bad_request(self):
        for bad in (0, -1, "300", True, 2.5):
            self.assertEqual(self.refused({"maxJobs": bad, "scaleTo": 1}, Journal(), View())["code"], "bad-request")


if __name__ == "__main__":
    unittest.main()
