"""A file run on the cluster: run-file gives it the scheduler's address and keeps its exit status; follow.sh streams
its output until the status appears; a run's job name is never taken for a worker of the cluster."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from gadi_dask.reconcile import role_of_name, unique_name

RUNTIME = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN_PY = os.path.join(RUNTIME, "run.py")
FOLLOW = os.path.join(RUNTIME, "follow.sh")

SCRIPT = """import os, sys
print(os.environ.get("DASK_SCHEDULER_ADDRESS"), sys.argv[1:], os.path.basename(os.getcwd()))
sys.exit(7)
"""


class RunFileTest(unittest.TestCase):
    def setUp(self):
        self.home = tempfile.mkdtemp()
        self.cdir = os.path.join(self.home, ".gadi-dask", "clusters", "demo")
        self.run_dir = os.path.join(self.cdir, "runs", "r1")
        os.makedirs(self.run_dir)
        with open(os.path.join(self.run_dir, "job.py"), "w") as f:
            f.write(SCRIPT)

    def tearDown(self):
        shutil.rmtree(self.home, ignore_errors=True)

    def run_file(self):
        env = dict(os.environ, HOME=self.home)
        env.pop("DASK_SCHEDULER_ADDRESS", None)
        return subprocess.run([sys.executable, RUN_PY, "run-file", "--name", "demo", "--dir", self.run_dir, "--",
                               os.path.join(self.run_dir, "job.py"), "a b", "--x"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)

    def status(self):
        with open(os.path.join(self.run_dir, "status")) as f:
            return f.read()

    def test_the_file_gets_the_address_its_arguments_and_its_status_is_kept(self):
        with open(os.path.join(self.cdir, "scheduler.json"), "w") as f:
            json.dump({"address": "tls://10.0.0.1:8786"}, f)
        p = self.run_file()
        self.assertEqual(p.returncode, 7, p.stderr)
        self.assertEqual(p.stdout, "tls://10.0.0.1:8786 ['a b', '--x'] r1\n")
        self.assertEqual(self.status(), "7\n")

    def test_without_a_scheduler_it_says_so_and_still_runs(self):
        p = self.run_file()
        self.assertEqual(p.returncode, 7)
        self.assertIn("no running scheduler", p.stderr)
        self.assertEqual(self.status(), "7\n")

    @unittest.skipUnless(shutil.which("bash"), "bash")
    def test_follow_prints_the_output_from_an_offset_and_ends_with_the_status(self):
        with open(os.path.join(self.run_dir, "output"), "w") as f:
            f.write("0123456789")
        with open(os.path.join(self.run_dir, "status"), "w") as f:
            f.write("3\n")
        p = subprocess.run(["bash", FOLLOW, self.run_dir, "1.x", "4"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, timeout=30)
        self.assertEqual((p.stdout, p.stderr), ("456789", "gadi-dask-run: status 3\n"))

    def test_a_run_is_never_one_of_the_cluster_s_jobs(self):
        name = unique_name("demo", "run")
        self.assertTrue(name.startswith("dask-run-demo-"))
        self.assertIsNone(role_of_name("demo", name))
        self.assertEqual(role_of_name("demo", unique_name("demo", "worker")), "worker")


if __name__ == "__main__":
    unittest.main()
