"""The pace of a large submission: the first qsubs go at once, the rest at most `rate` a minute, waited for in short
steps so that a stop request still ends the submission between two qsubs."""
import time

# Gadi takes at most 20 qsubs a minute from one user (a copy of GADI_SUBMISSIONS_PER_MINUTE in
# src/core/config/queues.ts, proven equal by a test): a minute's worth go at once, the rest at the rate.
GADI_SUBMISSIONS_PER_MINUTE = 20
STEP = 0.2  # seconds between two looks at a stop request while waiting


class Pacer(object):
    def __init__(self, rate=GADI_SUBMISSIONS_PER_MINUTE, burst=GADI_SUBMISSIONS_PER_MINUTE, clock=time.monotonic,
                 sleep=time.sleep):
        self.rate = rate
        self.interval = 60.0 / rate
        self.burst = burst
        self.clock = clock
        self.sleep = sleep
        self.sent = 0
        self.last = None

    @property
    def pacing(self):
        """True once the submissions go at the rate rather than at once."""
        return self.sent >= self.burst

    def delay(self):
        """Seconds before the next qsub may go."""
        if not self.pacing or self.last is None:
            return 0.0
        return max(0.0, self.last + self.interval - self.clock())

    def wait(self, stop):
        """Waits out delay(); False when `stop()` said so first."""
        while True:
            left = self.delay()
            if left <= 0:
                return True
            if stop():
                return False
            self.sleep(min(STEP, left))

    def submitted(self):
        self.sent += 1
        self.last = self.clock()
