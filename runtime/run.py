"""Entry point on the cluster: ``<python> ~/.gadi-dask/runtime/<version>/run.py <command> [options]``.

Puts this directory first on sys.path so the matching ``gadi_dask`` package is used, whatever PYTHONPATH says.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gadi_dask.__main__ import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
