"""history.jsonl: a sample whenever PBS says something new, the end once, worker peaks, compaction, torn lines."""
import json
import os
import shutil
import tempfile
import unittest

from gadi_dask.history import HISTORY_FILE, History, size_bytes


def attrs(state, walltime, mem, cput="00:00:01"):
    return {"Job_Name": "demo-0a1b2c3d", "job_state": state, "queue": "normal", "mtime": walltime,
            "Resource_List": {"ncpus": 1, "mem": "500mb", "walltime": "00:05:00"},
            "resources_used": {"cput": cput, "mem": mem, "vmem": mem, "walltime": walltime, "ncpus": 1,
                               "cpupercent": 90}}


class HistoryTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)

    def lines(self):
        with open(os.path.join(self.dir, HISTORY_FILE)) as f:
            return [json.loads(x) for x in f.read().splitlines()]

    def test_a_sample_per_change_the_end_once_and_the_peak_kept(self):
        roles = {"7.gadi-pbs": "worker"}
        h = History(self.dir)
        h.observe(roles, {"7.gadi-pbs": attrs("R", "00:00:05", "204800kb")}, now=1)
        h.observe(roles, {"7.gadi-pbs": attrs("R", "00:00:10", "102400kb")}, now=2)
        h.observe(roles, {"7.gadi-pbs": attrs("F", "00:00:12", "102400kb")}, now=3)
        h.observe(roles, {"7.gadi-pbs": attrs("F", "00:00:12", "102400kb")}, now=4)  # nothing new
        self.assertEqual([r["attrs"]["job_state"] for r in self.lines()], ["R", "R", "F"])
        self.assertNotIn("mtime", self.lines()[0]["attrs"])
        doc = History(self.dir).to_docs()[0]
        self.assertEqual(doc["peak"]["mem"], "204800kb")
        self.assertEqual((doc["firstSeen"], doc["lastSeen"], doc["samples"]), (1, 3, 3))

    def test_worker_peaks_come_from_the_status_probe_and_only_rise(self):
        roles = {"7.gadi-pbs": "worker"}
        h = History(self.dir)
        status = {"ok": True, "workers": [{"name": "w-7.gadi-pbs", "pbsJobId": "7.gadi-pbs", "memory": {"used": 300}},
                                          {"name": "x", "pbsJobId": "99.gadi-pbs", "memory": {"used": 5}}]}
        h.observe(roles, {}, status, now=1)
        status["workers"][0]["memory"]["used"] = 200
        h.observe(roles, {}, status, now=2)
        self.assertEqual(len(self.lines()), 1)
        self.assertEqual(History(self.dir).jobs["7.gadi-pbs"].workers, {"w-7.gadi-pbs": 300})

    def test_compaction_folds_a_finished_job_into_one_line_with_its_peaks(self):
        roles = {"7.gadi-pbs": "worker", "8.gadi-pbs": "worker"}
        h = History(self.dir)
        for n in range(5):
            h.observe(roles, {"7.gadi-pbs": attrs("R", "00:00:%02d" % n, "%dkb" % (1000 - n)),
                              "8.gadi-pbs": attrs("R", "00:00:%02d" % n, "1kb")}, now=n)
        h.observe(roles, {"7.gadi-pbs": attrs("F", "00:01:00", "10kb")}, now=9)
        self.assertFalse(h.compact())  # little to gain yet
        self.assertTrue(h.compact(force=True))
        recs = self.lines()
        self.assertEqual([(r["op"], r["id"]) for r in recs], [("job", "7.gadi-pbs"), ("job", "8.gadi-pbs")])
        again = History(self.dir).jobs["7.gadi-pbs"]
        self.assertEqual((again.peak["mem"], again.samples, again.first, again.attrs["job_state"]), ("1000kb", 6, 0, "F"))

    def test_a_corrupt_line_is_skipped_with_a_warning(self):
        with open(os.path.join(self.dir, HISTORY_FILE), "w") as f:
            f.write('{"op":"sample","at":1,"id":"7.gadi-pbs","role":"worker","attrs":{"job_state":"R"}}\n{"op":"sam\n[]\n')
        h = History(self.dir)
        self.assertEqual(list(h.jobs), ["7.gadi-pbs"])
        self.assertEqual(h.warnings, ["history line 2 is not a record and was skipped",
                                      "history line 3 is not a record and was skipped"])

    def test_sizes_as_pbs_prints_them(self):
        self.assertEqual([size_bytes(s) for s in ("218656kb", "500mb", "2gb", "3w", "12", "x")],
                         [218656 * 1024, 500 * 2 ** 20, 2 * 2 ** 30, 24, 12, None])


if __name__ == "__main__":
    unittest.main()
