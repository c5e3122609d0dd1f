"""A PBS Pro (OpenPBS 23.06) emulator for tests: qsub, qstat, qselect and qdel over one state directory.

Jobs really run. qsub (or whichever command's scheduling pass starts a job) double-forks a supervisor in its own
session; the supervisor runs the script with bash as a login shell, enforces walltime, samples what the job uses,
stages the .o/.e files when the job ends and records the exit as the server would. What the commands print, their
exit codes and the JSON layout follow real PBS output (test/fixtures/pbs). Standard library only, Python 3.8
syntax: it runs on the cluster side as an unprivileged user, and the bin directory may be copied anywhere.

One module per command (qsub, qstat, qselect, qdel); the server's state lives in `state`, the scheduler in
`scheduler`, the job's supervising process in `supervisor`, /proc readings in `procs`.
"""

import os
import sys
import traceback

from .common import PBS_VERSION, Exit, err
from .config import Config, log
from .persistent_sessions import persistent_sessions
from .qdel import qdel
from .qselect import qselect
from .qstat import qstat
from .qsub import qsub


COMMANDS = {"qsub": qsub, "qstat": qstat, "qselect": qselect, "qdel": qdel, "persistent-sessions": persistent_sessions}


def main(prog, argv):
    if argv == ["--version"]:  # every PBS command answers it alike, before reading anything
        sys.stdout.write("pbs_version = %s\n" % PBS_VERSION)
        return 0
    cfg = Config()
    try:
        return COMMANDS[prog](cfg, argv)
    except Exit as e:
        return e.status
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 1
    except OSError as e:
        err("%s: cannot connect to server %s (errno=%d)\n" % (prog, cfg.server, e.errno or 0))
        log(cfg, "%s %s failed:\n%s" % (prog, argv, traceback.format_exc()))
        return 1
