"""The kernel next to the cluster: its job name is never taken for a worker's or the scheduler's, and the check of
the user's Python names exactly the packages a kernel needs that it lacks."""
import subprocess
import sys
import tempfile
import unittest

from gadi_dask.kernel import NEEDED, missing_packages
from gadi_dask.reconcile import role_of_name, unique_name


class KernelTest(unittest.TestCase):
    def test_kernel_job_is_not_a_worker(self):
        name = unique_name("demo", "kernel")
        self.assertTrue(name.startswith("dask-kernel-demo-"))
        self.assertIsNone(role_of_name("demo", name))

    def test_missing_packages_are_named_with_their_pip_names(self):
        with tempfile.TemporaryDirectory() as d:
            # A Python that sees none of the system's packages.
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", d], check=True)
            missing = missing_packages(d + "/bin/python")
        self.assertEqual(missing, list(NEEDED))

    def test_an_absent_python_is_reported(self):
        self.assertEqual(missing_packages("/nonexistent/python")[0][0], "python")


if __name__ == "__main__":
    unittest.main()
