"""The Dask client of the by-hand path of the scale-wait benchmark, run as the cluster account.

  scale_wait_client.py SCHEDULER_FILE join N START   waits for N workers (Client.wait_for_workers), then prints
                                                     the seconds since START (a Unix time, taken before the first
                                                     qsub)
  scale_wait_client.py SCHEDULER_FILE leave          waits until the scheduler has no worker
A cluster that speaks TLS is joined with its keys, beside the scheduler file.
"""
import os
import sys
import time

from distributed import Client, Security

TIMEOUT = 300


def security(scheduler_file):
    here = os.path.dirname(os.path.abspath(scheduler_file))
    cert, key = os.path.join(here, "tls-cert.pem"), os.path.join(here, "tls-key.pem")
    if not os.path.exists(cert):
        return None
    return Security(tls_ca_file=cert, tls_client_cert=cert, tls_client_key=key, require_encryption=True)


def main():
    scheduler_file, mode = sys.argv[1], sys.argv[2]
    client = Client(scheduler_file=scheduler_file, timeout=30, security=security(scheduler_file))
    try:
        if mode == "join":
            client.wait_for_workers(int(sys.argv[3]), timeout=TIMEOUT)
            # Taken before the client closes: the wait is what is compared, not the goodbye.
            print("seconds %.3f" % (time.time() - float(sys.argv[4])))
        elif mode == "leave":
            deadline = time.monotonic() + TIMEOUT
            while client.scheduler_info()["workers"]:
                if time.monotonic() > deadline:
                    sys.exit("the scheduler still has workers after %d s" % TIMEOUT)
                time.sleep(0.2)
        else:
            sys.exit("unknown mode %r" % mode)
    finally:
        client.close()


if __name__ == "__main__":
    main()
