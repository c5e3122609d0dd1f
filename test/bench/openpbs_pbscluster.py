"""dask-jobqueue's own PBSCluster on the same real PBS, from the same account: the reference of the openpbs benchmark.

  openpbs_pbscluster.py SIZES RUNS      prints one line "pbscluster N SECONDS" per run: from cluster.scale(jobs=N)
                                        until client.wait_for_workers(N) returns; then it scales to 0 and waits for
                                        PBS to have none of its jobs before the next run
The cluster is as small as the gadi-dask benchmark's (one core, 1 GB, Debian's python, loopback only).
"""
import getpass
import subprocess
import sys
import time

from dask_jobqueue import PBSCluster
from distributed import Client


def live_jobs():
    """The account's jobs PBS has not finished (qselect without -x)."""
    return subprocess.run(["qselect", "-u", getpass.getuser()], stdout=subprocess.PIPE,
                          universal_newlines=True).stdout.split()


def main():
    sizes = [int(n) for n in sys.argv[1].split(",")]
    runs = int(sys.argv[2])
    cluster = PBSCluster(cores=1, processes=1, memory="1GB", walltime="00:20:00", interface="lo",
                         python="/usr/bin/python3", death_timeout=30,
                         worker_extra_args=["--dashboard-address", "127.0.0.1:0"],
                         scheduler_options={"dashboard_address": "127.0.0.1:0"})
    client = Client(cluster)
    try:
        for n in sizes:
            for _ in range(runs):
                started = time.time()
                cluster.scale(jobs=n)
                client.wait_for_workers(n, timeout=300)
                print("pbscluster %d %.3f" % (n, time.time() - started), flush=True)
                cluster.scale(0)
                # Both gone before the next run: PBS's jobs, and the workers the scheduler still lists (a name it
                # reuses would be refused while the old worker of that name is registered).
                deadline = time.time() + 120
                while (live_jobs() or client.scheduler_info()["workers"]) and time.time() < deadline:
                    time.sleep(0.5)
    finally:
        client.close()
        cluster.close()


if __name__ == "__main__":
    main()
