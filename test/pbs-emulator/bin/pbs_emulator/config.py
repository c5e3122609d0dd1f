"""The emulator's settings (PBS_EMULATOR_* environment) and its log."""

import os
import pwd
import socket
import time

from .gadi_queues import QUEUES


class Config:
    def __init__(self, env=None):
        env = os.environ if env is None else env
        self.env = env
        self.home = env.get("PBS_EMULATOR_HOME") or os.path.join(os.path.expanduser("~"), ".pbs-emulator")
        self.server = env.get("PBS_EMULATOR_SERVER") or "gadi-pbs"
        self.node = env.get("PBS_EMULATOR_NODE") or "gadi-cpu-clx-0001"
        self.default_queue = env.get("PBS_EMULATOR_DEFAULT_QUEUE") or "workq"
        # Gadi's queues, and the default one (the samples' server calls it workq).
        self.known_queues = set(QUEUES) | {self.default_queue}
        try:
            pw = pwd.getpwuid(os.getuid())
            self.user, self.user_home = pw.pw_name, pw.pw_dir
        except KeyError:
            self.user = env.get("LOGNAME") or env.get("USER") or str(os.getuid())
            self.user_home = env.get("HOME") or "/"
        # A fully qualified lookup could stall on an offline machine's resolver; the plain host name is enough.
        self.submit_host = env.get("PBS_EMULATOR_SUBMIT_HOST") or socket.gethostname()
        self.kill_delay = _float(env.get("PBS_EMULATOR_KILL_DELAY"), 10.0)
        # Real servers keep a deleted running job R for 8-11 s after it was killed; shorter here, as tests wait.
        self.qdel_linger = max(0.0, _float(env.get("PBS_EMULATOR_QDEL_LINGER"), 3.0))
        # How often a job's supervisor reads what the job uses (qstat reads it too, each time it runs).
        self.sample_seconds = max(0.1, _float(env.get("PBS_EMULATOR_SAMPLE_SECONDS"), 1.0))
        self.node_ncpus = _int(env.get("PBS_EMULATOR_NCPUS"), None)
        self.allow_root = env.get("PBS_EMULATOR_ALLOW_ROOT") == "1"
        self.first_seq = _int(env.get("PBS_EMULATOR_FIRST_SEQ"), 1)
        self.max_seq = _int(env.get("PBS_EMULATOR_MAX_SEQ"), 9999999)
        if self.first_seq > self.max_seq:
            self.max_seq = 999999999999
        self.history_seconds = _int(env.get("PBS_EMULATOR_HISTORY_SECONDS"), 14 * 86400)

    @property
    def owner(self):
        return "%s@%s" % (self.user, self.submit_host)


def _int(text, default):
    try:
        return int(text) if text not in (None, "") else default
    except ValueError:
        return default


def _float(text, default):
    try:
        return float(text) if text not in (None, "") else default
    except ValueError:
        return default


def log(cfg, text):
    try:
        with open(os.path.join(cfg.home, "emulator.log"), "a") as f:
            f.write("%s %s\n" % (time.strftime("%Y-%m-%d %H:%M:%S"), text))
    except OSError:
        pass
