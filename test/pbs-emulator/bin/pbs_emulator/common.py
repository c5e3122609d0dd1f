"""Facts every command shares: the version, PBS error numbers, substates, the exit that keeps what was printed."""

import sys


PBS_VERSION = "23.06.06"


LINE_LIMIT = 78


MAX_ARRAY_SIZE = 10000


# Above Gadi's longest walltime in any queue (gadi_queues), Gadi's qsub exits 32 without a word.


GADI_REJECT_EXIT = 32


# The commands exit with a PBS error number; exit() keeps its low 8 bits (15001 -> 153, 15139 -> 35).
PBSE_UNKJOBID = 15001


PBSE_BADATVAL = 15014


PBSE_BADUSER = 15023
PBSE_UNKQUE = 15018


PBSE_UNKRESC = 15035


PBSE_INVALJOBRESC = 15109


PBSE_HISTJOBID = 15139


# Substates as the server reports them.
SUB_QUEUED, SUB_HELD, SUB_DEPHOLD, SUB_RUNNING, SUB_EXITING, SUB_BEGUN = 10, 20, 22, 42, 50, 70


SUB_DELETED, SUB_FINISHED, SUB_FAILED = 91, 92, 93


class Exit(Exception):
    """Leave a command with this status after printing what was already printed."""

    def __init__(self, status):
        super().__init__(status)
        self.status = status


def pbs_exit(code):
    return code & 0xFF


def err(text):
    sys.stderr.write(text)
    sys.stderr.flush()
