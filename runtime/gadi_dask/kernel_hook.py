"""Run by the kernel at each start (the kernelspec's ``--IPKernelApp.exec_files``), in the user's namespace: before
every cell, ``Client()`` with no arguments is pointed at the address in the cluster's scheduler file, so a scheduler
that restarted (a new address) is found without restarting the kernel. It defines no name the user would see."""


def _gadi_dask_follow_scheduler():
    import json
    import os
    import sys

    path = os.environ.get("GADI_DASK_SCHEDULER_FILE")

    def follow(*_):
        try:
            with open(path, encoding="utf-8") as f:
                address = json.load(f).get("address")
        except (OSError, TypeError, ValueError, AttributeError):
            return  # no scheduler now: Client() says so itself
        if not isinstance(address, str) or not address:
            return
        os.environ["DASK_SCHEDULER_ADDRESS"] = address  # dask reads it when first imported
        config = sys.modules.get("dask.config")
        if config is not None and config.get("scheduler-address", None) != address:
            config.set({"scheduler-address": address})

    from IPython import get_ipython

    shell = get_ipython()
    if path and shell is not None:
        shell.events.register("pre_run_cell", follow)


_gadi_dask_follow_scheduler()
del _gadi_dask_follow_scheduler
