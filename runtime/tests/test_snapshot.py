"""The key of the workers a long poll of the status route compares: the scheduler's and the agent's must agree."""
import enum
import unittest
from types import SimpleNamespace

from gadi_dask.op_observe import workers_seen
from gadi_dask.snapshot import from_scheduler, workers_key, workers_seen_in


class Status(enum.Enum):
    running = "running"
    closing = "closing"


def worker(name, status):
    return SimpleNamespace(name=name, address="tcp://127.0.0.1:%d" % (1000 + len(name)), host="127.0.0.1", nthreads=1,
                           memory=SimpleNamespace(process=1), nbytes=0, memory_limit=2 ** 30, processing=set(),
                           status=status, last_seen=None, metrics={})


class WorkersKeyTest(unittest.TestCase):
    def test_the_scheduler_and_the_agent_key_the_same_workers_alike(self):
        workers = [worker("demo-12.gadi-pbs", Status.running), worker("demo-11.gadi-pbs-0", Status.closing)]
        scheduler = SimpleNamespace(workers=dict((w.address, w) for w in workers), id="S-1", address="tcp://x:1",
                                    clients={}, tasks={}, time_started=None)
        doc = from_scheduler(scheduler, {}, None, None)
        self.assertEqual(workers_seen(doc), workers_seen_in(scheduler))
        self.assertEqual(workers_key(workers_seen(doc)), workers_key(workers_seen_in(scheduler)))
        self.assertNotEqual(workers_key([]), workers_key(workers_seen_in(scheduler)))
        self.assertEqual(workers_key([]), workers_key(workers_seen_in(SimpleNamespace(workers={}))))


if __name__ == "__main__":
    unittest.main()
