"""Worker-name parsing, a call beside another, durations, the tree hash, and the qsub/qdel/qstat wrappers (with stand-in commands)."""
import json
import os
import shutil
import stat
import subprocess
import tempfile
import threading
import unittest

from gadi_dask import pbs
from gadi_dask.common import Beside, CommandTimeout, OutputTooLarge, parse_worker_name, run_bounded, split_address
from gadi_dask.hashing import tree_hash
from gadi_dask.scheduler import UsageError, parse_duration

HERE = os.path.dirname(os.path.abspath(__file__))
INSTALL_SH = os.path.join(os.path.dirname(HERE), "install.sh")


class CallBeside(unittest.TestCase):
    def test_value_error_and_a_call_still_running(self):
        self.assertEqual(Beside(lambda: 42).result(), 42)

        def fails():
            raise ValueError("not PBS's format")

        with self.assertRaisesRegex(ValueError, "not PBS's format"):
            Beside(fails).result()
        release = threading.Event()
        late = Beside(release.wait)
        with self.assertRaises(TimeoutError):
            late.result(0.05)
        release.set()
        self.assertTrue(late.result(5))


class WorkerNames(unittest.TestCase):
    def test_names_with_job_ids(self):
        cases = {
            "dask-worker-12.gadi-pbs": ("12.gadi-pbs", "dask-worker", None),
            "dask-worker-12.gadi-pbs-3": ("12.gadi-pbs", "dask-worker", 3),
            "dask-worker-45[2].gadi-pbs": ("45[2].gadi-pbs", "dask-worker", None),
            "dask-worker-45[2].gadi-pbs-0": ("45[2].gadi-pbs", "dask-worker", 0),
            "12345678.gadi-pbs": ("12345678.gadi-pbs", None, None),
            "run-2-99.gadi-pbs-11": ("99.gadi-pbs", "run-2", 11),
            "dask-worker-7.gadi-pbs.nci.org.au": ("7.gadi-pbs.nci.org.au", "dask-worker", None),
        }
        for name, (job, job_name, index) in cases.items():
            self.assertEqual(parse_worker_name(name), {"pbsJobId": job, "jobName": job_name, "index": index}, name)

    def test_names_without_job_ids(self):
        for name in ("local-worker", "tcp://10.0.0.1:4000", 3, "dask-worker-12", "worker-1.5x"):
            self.assertIsNone(parse_worker_name(name)["pbsJobId"], name)

    def test_addresses(self):
        self.assertEqual(split_address("tcp://10.6.1.2:8786"), ("tcp", "10.6.1.2", 8786))
        self.assertEqual(split_address("tls://[::1]:99"), ("tls", "::1", 99))
        self.assertIsNone(split_address("inproc://x"))


class Durations(unittest.TestCase):
    def test_forms(self):
        self.assertEqual(parse_duration(90), 90.0)
        self.assertEqual(parse_duration("90"), 90.0)
        self.assertEqual(parse_duration("30m"), 1800.0)
        self.assertEqual(parse_duration("1.5h"), 5400.0)
        self.assertEqual(parse_duration("off"), 0.0)
        for bad in ("soon", "-5", True, "5 weeks"):
            with self.assertRaises(UsageError):
                parse_duration(bad)


class TreeHash(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)
        for rel, text in (("run.py", "a\n"), ("gadi_dask/x.py", "b"), ("gadi_dask/Z.py", ""), ("README.md", "c")):
            os.makedirs(os.path.dirname(os.path.join(self.dir, rel)), exist_ok=True)
            with open(os.path.join(self.dir, rel), "w") as f:
                f.write(text)

    def sh_hash(self):
        out = subprocess.run(["sh", INSTALL_SH, "hash", self.dir], stdout=subprocess.PIPE, check=True,
                             universal_newlines=True).stdout
        return json.loads(out.split("@@GADI_DASK_BEGIN@@\n")[1].split("\n@@GADI_DASK_END@@")[0])["hash"]

    def test_python_and_sh_agree_and_ignore_caches_and_the_manifest(self):
        digest, count = tree_hash(self.dir)
        self.assertEqual(count, 4)
        self.assertEqual(self.sh_hash(), digest)
        os.makedirs(os.path.join(self.dir, "gadi_dask", "__pycache__"))
        for rel in ("gadi_dask/__pycache__/x.cpython-311.pyc", "gadi_dask/y.pyc", ".gadi-dask-runtime.json"):
            with open(os.path.join(self.dir, rel), "w") as f:
                f.write("noise")
        self.assertEqual(tree_hash(self.dir)[0], digest)
        self.assertEqual(self.sh_hash(), digest)

    def test_content_and_names_change_the_hash(self):
        digest, _ = tree_hash(self.dir)
        with open(os.path.join(self.dir, "README.md"), "a") as f:
            f.write("!")
        changed, _ = tree_hash(self.dir)
        self.assertNotEqual(changed, digest)
        os.rename(os.path.join(self.dir, "README.md"), os.path.join(self.dir, "READ.md"))
        self.assertNotEqual(tree_hash(self.dir)[0], changed)
        self.assertEqual(self.sh_hash(), tree_hash(self.dir)[0])


class PbsWrappers(unittest.TestCase):
    """The wrappers run real processes: stand-in qsub/qdel/qstat printing what PBS Pro prints."""

    def setUp(self):
        self.bin = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.bin)
        self.path = os.environ["PATH"]
        os.environ["PATH"] = self.bin + os.pathsep + self.path
        self.addCleanup(os.environ.__setitem__, "PATH", self.path)

    def tool(self, name, body):
        path = os.path.join(self.bin, name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + body + "\n")
        os.chmod(path, os.stat(path).st_mode | stat.S_IEXEC)

    def test_qsub_returns_the_job_id_and_passes_arguments_as_a_list(self):
        self.tool("qsub", 'printf "%s\\n" "$@" > "$(dirname "$0")/args"; echo 1.gadi-pbs')
        self.assertEqual(pbs.qsub("w.pbs", ["-W", "depend=after:9.gadi-pbs", "a b;$(x)"]), "1.gadi-pbs")
        with open(os.path.join(self.bin, "args")) as f:
            self.assertEqual(f.read().splitlines(), ["-W", "depend=after:9.gadi-pbs", "a b;$(x)", "w.pbs"])

    def test_qsub_silent_exit_32_is_explained(self):
        self.tool("qsub", "exit 32")
        with self.assertRaisesRegex(pbs.PbsError, "queue limit"):
            pbs.qsub("w.pbs")

    def test_qsub_error_text_is_kept(self):
        self.tool("qsub", 'echo "qsub: Unknown queue" >&2; exit 174')
        with self.assertRaisesRegex(pbs.PbsError, "Unknown queue"):
            pbs.qsub("w.pbs")

    def test_missing_command_is_a_pbs_error(self):
        os.environ["PATH"] = self.bin
        with self.assertRaisesRegex(pbs.PbsError, "not found"):
            pbs.qdel(["1.gadi-pbs"])

    def test_qdel_outcomes(self):
        self.tool("qdel", 'echo "qdel: Unknown Job Id 9.gadi-pbs" >&2; echo "qdel: Job has finished 7.gadi-pbs" >&2;'
                          ' echo "qdel: Unauthorized Request  8.gadi-pbs" >&2; exit 153')
        self.assertEqual(pbs.qdel(["9.gadi-pbs", "7.gadi-pbs", "8.gadi-pbs"]),
                         {"9.gadi-pbs": "gone", "7.gadi-pbs": "gone",
                          "8.gadi-pbs": "error: qdel: Unauthorized Request  8.gadi-pbs"})
        self.tool("qdel", "exit 0")
        self.assertEqual(pbs.qdel(["1.gadi-pbs"]), {"1.gadi-pbs": "deleted"})

    def test_qdel_of_an_exiting_job_is_leaving_and_the_others_in_the_call_deleted(self):
        # PBS prints one line per id it refused; the exit status is the last failure's (168: state E).
        self.tool("qdel", 'echo "qdel: Request invalid for state of job 12.gadi-pbs" >&2; exit 168')
        self.assertEqual(pbs.qdel(["12.gadi-pbs", "13.gadi-pbs", "112.gadi-pbs"]),
                         {"12.gadi-pbs": "gone", "13.gadi-pbs": "deleted", "112.gadi-pbs": "deleted"})
        self.tool("qdel", 'echo "qdel: something went wrong" >&2; exit 1')
        self.assertEqual(pbs.qdel(["12.gadi-pbs"]), {"12.gadi-pbs": "error: qdel exited 1: qdel: something went wrong"})

    def test_an_unreachable_server_is_named(self):
        for tool, call in (("qdel", lambda: pbs.qdel(["1.gadi-pbs"])), ("qstat", lambda: pbs.qstat_states(["1.gadi-pbs"])),
                           ("qsub", lambda: pbs.qsub("w.pbs"))):
            self.tool(tool, 'echo "Connection refused" >&2; echo "%s: cannot connect to server gadi-pbs (errno=15010)" >&2;'
                            ' exit 10' % tool)
            with self.assertRaisesRegex(pbs.PbsUnreachable, "PBS's server did not answer %s" % tool):
                call()

    def test_a_job_id_is_taken_only_from_an_unambiguous_answer(self):
        self.assertEqual(pbs.answer_id("123.gadi-pbs\n"), "123.gadi-pbs")
        self.assertEqual(pbs.answer_id("\n 7[].gadi-pbs \n"), "7[].gadi-pbs")
        for chatter in ("123.gadi-pbs\n99.gadi-pbs\n", "Project ab12 has 12345.67 KSU left\n", "12345.67\n",
                        "Job submitted: 123.gadi-pbs\n", "123\n", "", "caf\ufffd\n"):
            self.assertIsNone(pbs.answer_id(chatter), chatter)
        self.tool("qsub", 'echo 5.gadi-pbs; echo "Note: your job 4.gadi-pbs is held"')
        with self.assertRaisesRegex(pbs.PbsError, "names no single job id"):
            pbs.qsub("w.pbs")

    def test_output_is_decoded_with_replacement_and_bounded(self):
        self.tool("qsub", "printf 'qsub: caf\\351\\n' >&2; exit 1")
        with self.assertRaisesRegex(pbs.PbsError, "caf\ufffd"):
            pbs.qsub("w.pbs")
        rc, out, err = run_bounded(["sh", "-c", "printf 'a\\351b'; printf '\\377' >&2"], 10)
        self.assertEqual((rc, out, err), (0, "a\ufffdb", "\ufffd"))
        with self.assertRaises(OutputTooLarge):
            run_bounded(["sh", "-c", "yes | head -c 5000000"], 10, limit=1000000)
        with self.assertRaises(CommandTimeout):
            run_bounded(["sleep", "5"], 0.2)

    def test_qstat_states(self):
        doc = {"timestamp": 1, "pbs_version": "23.06.06", "pbs_server": "gadi-pbs",
               "Jobs": {"5.gadi-pbs": {"job_state": "F"}, "6.gadi-pbs": {"job_state": "Q"}}}
        # -E: one request for every id (the server answers for those it knows, silent about the others).
        self.tool("qstat", "[ \"$1\" = -E ] || exit 2\ncat <<'EOF'\n%s\nEOF\necho 'qstat: Unknown Job Id 4.gadi-pbs' >&2; exit 153"
                  % json.dumps(doc))
        self.assertEqual(pbs.qstat_states(["4.gadi-pbs", "5.gadi-pbs", "6.gadi-pbs", "3.gadi-pbs"]),
                         {"4.gadi-pbs": "F", "3.gadi-pbs": "F", "5.gadi-pbs": "F", "6.gadi-pbs": "Q"})
        self.tool("qstat", "cat <<'EOF'\n%s\nEOF\necho 'qstat: Unauthorized Request' >&2; exit 159" % json.dumps(doc))
        self.assertEqual(pbs.qstat_states(["3.gadi-pbs", "6.gadi-pbs"]), {"6.gadi-pbs": "Q"})
        self.tool("qstat", "echo 'not json'")
        with self.assertRaisesRegex(pbs.PbsError, "not JSON"):
            pbs.qstat_states(["1.gadi-pbs"])


if __name__ == "__main__":
    unittest.main()
