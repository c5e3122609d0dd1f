"""Which running jobs ``run.py retire`` removes: least busy first, then least data, then the newest."""
import unittest

from gadi_dask.retire import choose


class ChooseTest(unittest.TestCase):
    def test_idle_jobs_go_before_busy_ones_and_newest_first_among_equals(self):
        groups = {
            "10.gadi-pbs": {"processing": 4, "nbytes": 0},
            "11.gadi-pbs": {"processing": 0, "nbytes": 5000},
            "12.gadi-pbs": {"processing": 0, "nbytes": 0},
        }
        jobs = ["10.gadi-pbs", "11.gadi-pbs", "12.gadi-pbs", "13.gadi-pbs"]
        # 13 has no connected worker: nothing to lose; among the idle, 12 holds no data, 11 does.
        self.assertEqual(choose(jobs, groups, 2), ["13.gadi-pbs", "12.gadi-pbs"])
        self.assertEqual(choose(jobs, groups, 4), ["13.gadi-pbs", "12.gadi-pbs", "11.gadi-pbs", "10.gadi-pbs"])

    def test_nothing_asked_nothing_chosen(self):
        self.assertEqual(choose(["1.gadi-pbs"], {}, 0), [])


if __name__ == "__main__":
    unittest.main()
