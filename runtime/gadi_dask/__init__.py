"""Remote half of the gadi-dask extension: scheduler launcher, adaptivity, status probe, shutdown.

Standard library plus ``distributed`` only; modules that the fast status path needs import ``distributed`` lazily.
"""
import json
import os

# The installer writes this manifest next to the package; a checkout without it reports "unversioned".
RUNTIME_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MANIFEST_NAME = ".gadi-dask-runtime.json"


def _read_version():
    try:
        with open(os.path.join(RUNTIME_DIR, MANIFEST_NAME), encoding="utf-8") as f:
            return str(json.load(f).get("version") or "unversioned")
    except (OSError, ValueError, AttributeError):
        return "unversioned"


__version__ = _read_version()
