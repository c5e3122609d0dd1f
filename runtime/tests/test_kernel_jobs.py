"""The kernel's job beside the cluster's, against the PBS emulator (test/pbs-emulator): a snapshot shows it with
its own role, asked about in the qstat the snapshot makes anyway, and never among the cluster's jobs; ``down``
keeps it when asked to, stops it otherwise; a stop naming a job stops only that job; a stop asked to wait answers
once the job has left PBS."""
import io
import os
import shutil
import tempfile
import time
import unittest

from gadi_dask import pbs
from gadi_dask.agent import Agent, Channel
from gadi_dask.common import cluster_dir
from gadi_dask.journal import Journal
from gadi_dask.kernel import KERNEL_DIR
from gadi_dask.op_down import op_down
from gadi_dask.op_kernel import op_kernel, stop_kernel
from gadi_dask.op_observe import op_snapshot
from gadi_dask.op_pbs import submit
from gadi_dask.protocol import KEEP_KERNEL, KERNEL_ROLE
from gadi_dask.reconcile import qstat

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATOR = os.path.join(HERE, "..", "..", "test", "pbs-emulator", "bin")
JOB = os.path.join(HERE, "sleep-job.sh")
NAME = "kerneltree"


class KernelJobsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)
        env = {"HOME": os.path.join(self.dir, "home"), "PBS_EMULATOR_HOME": os.path.join(self.dir, "pbs"),
               "PATH": os.path.abspath(EMULATOR) + os.pathsep + os.environ["PATH"], "PBS_EMULATOR_ALLOW_ROOT": "1",
               "PBS_EMULATOR_QDEL_LINGER": "0", "PBS_EMULATOR_KILL_DELAY": "1"}
        for k, v in env.items():
            old = os.environ.get(k)
            os.environ[k] = v
            self.addCleanup(lambda k=k, old=old: os.environ.pop(k) if old is None else os.environ.__setitem__(k, old))
        os.makedirs(env["HOME"])
        self.cdir = cluster_dir(NAME)
        self.kdir = os.path.join(self.cdir, KERNEL_DIR)
        os.makedirs(self.kdir)
        self.worker, _ = submit(Journal(self.cdir), self.cdir, "worker", JOB, cluster=NAME)
        self.kernel, _ = submit(Journal(self.kdir), self.kdir, KERNEL_ROLE, JOB, cluster=NAME)
        self.assertTrue(self.worker and self.kernel)
        self.addCleanup(self.cancel_all)
        self.agent = Agent(Channel(io.StringIO()))
        self.pbs_calls = []
        real = pbs.run

        def counted(argv, timeout, cwd=None):
            self.pbs_calls.append(list(argv))
            return real(argv, timeout, cwd)

        pbs.run = counted
        self.addCleanup(setattr, pbs, "run", real)

    def cancel_all(self):
        pbs.qdel([self.worker, self.kernel])
        for job_id in (self.worker, self.kernel):
            self.wait_state(job_id, ("F", None))  # the emulator's job supervisors write into the temp dir until then

    def state(self, job_id):
        return qstat([job_id]).get(job_id, {}).get("job_state")

    def wait_state(self, job_id, states):
        deadline = time.time() + 30
        while self.state(job_id) not in states:
            self.assertLess(time.time(), deadline, "job %s never reached %s" % (job_id, states))
            time.sleep(0.3)

    def snapshot(self):
        del self.pbs_calls[:]
        return op_snapshot({"cluster": NAME, "probeTimeout": 2}, lambda m: None, self.agent)

    def test_the_snapshot_shows_the_kernel_job_from_the_same_qstat_and_not_as_the_cluster_s(self):
        answer = self.snapshot()
        qstats = [c for c in self.pbs_calls if c[0] == "qstat"]
        self.assertEqual(len(qstats), 1, self.pbs_calls)
        self.assertIn(self.kernel, qstats[0])
        self.assertEqual([(j["id"], j["role"]) for j in answer["kernelJobs"]], [(self.kernel, KERNEL_ROLE)])
        self.assertEqual([(j["id"], j["role"]) for j in answer["jobs"]], [(self.worker, "worker")])
        self.assertIn('"%s"' % self.kernel, answer["qstat"], "the kernel job's PBS attributes travel with the others")
        # Ended (here by hand): the next snapshot records it finished in the kernel's journal, and still shows it.
        pbs.qdel([self.kernel])
        self.wait_state(self.kernel, ("F",))
        answer = self.snapshot()
        self.assertIsNotNone(answer["kernelJobs"][0]["finished"])
        self.assertIsNotNone(Journal(self.kdir).jobs[self.kernel].finished)

    def test_down_keeps_the_kernel_when_asked_and_stops_it_otherwise(self):
        self.wait_state(self.kernel, ("R",))
        kept = op_down({"cluster": NAME, KEEP_KERNEL: True, "purge": True, "waitSeconds": 20, "shutdownTimeout": 2},
                       lambda m: None, self.agent)
        self.assertEqual(kept["kernel"], {"stopped": [], "errors": [], "kept": [self.kernel]})
        self.assertEqual([c["id"] for c in kept["cancelled"]], [self.worker])
        self.assertEqual(self.state(self.kernel), "R")
        self.assertFalse(kept["purged"], "the kept kernel's directory stays")
        self.assertTrue(os.path.isdir(self.kdir))
        stopped = op_down({"cluster": NAME, "waitSeconds": 20, "shutdownTimeout": 2}, lambda m: None, self.agent)
        self.assertEqual(stopped["kernel"], {"stopped": [self.kernel], "errors": [], "kept": []})
        self.wait_state(self.kernel, ("F",))

    def test_a_stop_naming_another_job_stops_nothing(self):
        self.assertEqual(stop_kernel(self.kdir, self.worker), {"stopped": [], "errors": []})
        self.assertIn(self.state(self.kernel), ("Q", "R"))
        self.assertEqual(stop_kernel(self.kdir, self.kernel), {"stopped": [self.kernel], "errors": []})

    def test_a_stop_asked_to_wait_answers_once_pbs_runs_nothing_of_the_kernel(self):
        self.wait_state(self.kernel, ("R",))
        said = []
        answer = op_kernel({"cluster": NAME, "action": "stop", "waitSeconds": 20}, said.append, self.agent)
        self.assertEqual((answer["stopped"], answer["exiting"]), ([self.kernel], []))
        self.assertIn(self.state(self.kernel), ("F", None))
        self.assertEqual(self.state(self.worker), "R", "the cluster's worker is not the kernel's")


if __name__ == "__main__":
    unittest.main()
