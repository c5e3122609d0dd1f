"""The adaptive decision rules, alone and over simulated load traces (no oscillation, dask-jobqueue #498)."""
import random
import unittest

from gadi_dask.adaptive import PENDING, RUNNING, Job, Load, Memory, Params, check_params, decide, wanted_jobs


class Sim:
    """A toy PBS + Dask: submitted jobs wait ``queue_wait`` seconds, then run ``threads`` tasks each."""

    def __init__(self, params, queue_wait=60.0, start=0.0):
        self.p = params
        self.queue_wait = queue_wait
        self.jobs = {}
        self.memory = Memory()
        self.events = []  # (time, kind, job id)
        self.sizes = []
        self.next_id = 1
        self.now = start

    def observe(self, tasks, held=()):
        jobs = []
        left = tasks
        for jid, j in sorted(self.jobs.items(), key=lambda kv: kv[1]["submitted"]):
            running = self.now >= j["submitted"] + self.queue_wait
            busy = min(self.p.threads_per_job, left) if running else 0
            left -= busy
            jobs.append(Job(jid, RUNNING if running else PENDING, busy, 1000 if jid in held else 0, j["submitted"]))
        return Load(self.now, tasks, tuple(jobs))

    def step(self, tasks, dt=5.0):
        load = self.observe(tasks)
        decision, self.memory = decide(self.p, load, self.memory)
        for _ in range(decision.submit):
            jid = "%d.gadi-pbs" % self.next_id
            self.next_id += 1
            self.jobs[jid] = {"submitted": self.now}
            self.events.append((self.now, "submit", jid))
        busy = {j.id for j in load.jobs if j.processing}
        for jid in decision.cancel + decision.retire:
            assert jid not in busy, "a busy job was picked for removal"
            del self.jobs[jid]
            self.events.append((self.now, "cancel" if jid in decision.cancel else "retire", jid))
        self.sizes.append(len(self.jobs))
        self.now += dt
        return decision

    def run(self, trace, dt=5.0):
        for tasks in trace:
            self.step(tasks, dt)

    def count(self, *kinds):
        return sum(1 for e in self.events if e[1] in kinds)

    def changes(self):
        """Times at which the number of jobs changed (one per decision)."""
        return sorted({t for t, _, _ in self.events})


def seconds(n, tasks, dt=5.0):
    return [tasks] * int(n / dt)


P = Params(minimum=0, maximum=4, threads_per_job=48, scale_down_delay=120.0, cooldown=30.0)


class DecideBasics(unittest.TestCase):
    def test_backlog_scales_up_at_once_to_what_it_needs(self):
        d, mem = decide(P, Load(0.0, 100, ()))
        self.assertEqual((d.target, d.submit), (3, 3))
        self.assertEqual(mem.last_change, 0.0)

    def test_target_is_clamped_to_max(self):
        d, _ = decide(P, Load(0.0, 10000, ()))
        self.assertEqual(d.submit, 4)

    def test_minimum_is_kept_without_any_demand(self):
        p = P._replace(minimum=2)
        d, _ = decide(p, Load(0.0, 0, ()))
        self.assertEqual(d.submit, 2)
        self.assertEqual(d.reason, "below minimum")

    def test_same_inputs_same_outputs(self):
        load = Load(50.0, 10, (Job("1.x", RUNNING, 0, 0, 0.0), Job("2.x", PENDING, 0, 0, 1.0)))
        mem = Memory(last_change=0.0, low_since=10.0, low_peak=1)
        self.assertEqual(decide(P, load, mem), decide(P, load, mem))

    def test_cooldown_holds_a_scale_up(self):
        d, mem = decide(P, Load(10.0, 500, (Job("1.x", RUNNING, 48, 0, 0.0),)), Memory(last_change=0.0))
        self.assertEqual((d.submit, d.reason), (0, "cooldown"))
        self.assertEqual(mem.last_change, 0.0)
        d, _ = decide(P, Load(30.0, 500, (Job("1.x", RUNNING, 48, 0, 0.0),)), mem)
        self.assertEqual(d.submit, 3)

    def test_scale_down_waits_for_sustained_low_demand(self):
        jobs = (Job("1.x", RUNNING, 0, 0, 0.0), Job("2.x", RUNNING, 0, 0, 0.0))
        mem = Memory()
        for t in range(0, 120, 5):
            d, mem = decide(P, Load(1000.0 + t, 0, jobs), mem)
            self.assertEqual(d.retire + d.cancel, (), "removed after only %ds" % t)
        d, mem = decide(P, Load(1120.0, 0, jobs), mem)
        self.assertEqual(sorted(d.retire), ["1.x", "2.x"])
        self.assertEqual(mem, Memory(last_change=1120.0))

    def test_a_short_rise_restarts_the_low_window(self):
        jobs = (Job("1.x", RUNNING, 0, 0, 0.0), Job("2.x", RUNNING, 0, 0, 0.0))
        _, mem = decide(P, Load(0.0, 0, jobs))
        _, mem = decide(P, Load(100.0, 96, jobs), mem)  # demand back to 2 jobs
        d, mem = decide(P, Load(150.0, 0, jobs), mem)
        self.assertEqual(d.retire, ())
        self.assertEqual(mem.low_since, 150.0)

    def test_a_backlog_during_a_cooldown_still_restarts_the_low_window(self):
        jobs = (Job("1.x", RUNNING, 0, 0, 0.0), Job("2.x", RUNNING, 0, 0, 0.0))
        _, mem = decide(P, Load(0.0, 0, jobs), Memory(last_change=-100.0))
        d, mem = decide(P, Load(100.0, 500, jobs), mem._replace(last_change=90.0))
        self.assertEqual(d.reason, "cooldown")
        d, _ = decide(P, Load(125.0, 0, jobs), mem)
        self.assertEqual(d.retire, (), "the backlog at 100 s must count against shrinking at 125 s")

    def test_cooldown_also_holds_a_scale_down(self):
        p = P._replace(scale_down_delay=0.0)
        d, mem = decide(p, Load(0.0, 100, ()))
        self.assertEqual(d.submit, 3)
        jobs = tuple(Job("%d.x" % i, PENDING, 0, 0, 0.0) for i in range(3))
        d, mem = decide(p, Load(10.0, 0, jobs), mem)
        self.assertEqual((d.cancel, d.reason), ((), "cooldown"))
        d, _ = decide(p, Load(30.0, 0, jobs), mem)
        self.assertEqual(len(d.cancel), 3)

    def test_scales_down_only_to_the_peak_of_the_low_window(self):
        jobs = tuple(Job("%d.x" % i, RUNNING, 0, 0, float(i)) for i in range(4))
        mem = Memory()
        _, mem = decide(P, Load(0.0, 90, jobs), mem)  # needs 2 of 4
        _, mem = decide(P, Load(60.0, 10, jobs), mem)  # needs 1
        d, _ = decide(P, Load(125.0, 10, jobs), mem)
        self.assertEqual(len(d.retire), 2, "keeps the 2 jobs that the window's peak needed")
        self.assertEqual(d.target, 2)

    def test_queued_jobs_go_before_running_ones_and_min_is_kept(self):
        p = P._replace(minimum=1)
        jobs = (Job("1.x", RUNNING, 0, 0, 0.0), Job("2.x", RUNNING, 0, 0, 1.0),
                Job("3.x", PENDING, 0, 0, 2.0), Job("4.x", PENDING, 0, 0, 3.0))
        _, mem = decide(p, Load(0.0, 0, jobs))
        d, _ = decide(p, Load(200.0, 0, jobs), mem)
        self.assertEqual(d.cancel, ("4.x", "3.x"))
        self.assertEqual(d.retire, ("2.x",))
        self.assertEqual(d.target, 1)

    def test_busy_jobs_are_never_picked(self):
        jobs = tuple(Job("%d.x" % i, RUNNING, 1, 0, float(i)) for i in range(3))  # 3 tasks: needs 1 job
        _, mem = decide(P, Load(0.0, 3, jobs))
        d, mem = decide(P, Load(500.0, 3, jobs), mem)
        self.assertEqual((d.retire, d.cancel, d.reason), ((), (), "jobs above target are busy"))
        jobs = (jobs[0], jobs[1]._replace(processing=0), jobs[2]._replace(processing=0))
        d, _ = decide(P, Load(505.0, 1, jobs), mem)
        self.assertEqual(sorted(d.retire), ["1.x", "2.x"])

    def test_running_jobs_with_least_data_are_retired_first(self):
        jobs = (Job("1.x", RUNNING, 0, 5000, 0.0), Job("2.x", RUNNING, 0, 10, 1.0), Job("3.x", RUNNING, 0, 900, 2.0))
        p = P._replace(minimum=2)
        _, mem = decide(p, Load(0.0, 0, jobs))
        d, _ = decide(p, Load(130.0, 0, jobs), mem)
        self.assertEqual(d.retire, ("2.x",))

    def test_above_a_lowered_maximum_shrinks_without_waiting(self):
        p = P._replace(maximum=2)
        jobs = tuple(Job("%d.x" % i, RUNNING, 0, 0, float(i)) for i in range(4))
        d, _ = decide(p, Load(0.0, 1000, jobs))
        self.assertEqual(len(d.retire), 2)
        self.assertEqual(d.reason, "above maximum")

    def test_parameters_are_checked(self):
        for bad in (P._replace(minimum=-1), P._replace(maximum=-1), P._replace(minimum=5, maximum=4),
                    P._replace(threads_per_job=0), P._replace(cooldown=-1)):
            with self.assertRaises(ValueError):
                check_params(bad)
        self.assertEqual(wanted_jobs(P, 49), 2)
        self.assertEqual(wanted_jobs(P, 48), 1)


class Traces(unittest.TestCase):
    """Whole simulated sessions: the number of jobs must follow demand without flapping."""

    def assert_cooldown_kept(self, sim):
        times = sim.changes()
        for a, b in zip(times, times[1:]):
            self.assertGreaterEqual(b - a, sim.p.cooldown, "two changes %gs apart" % (b - a))

    def test_a_backlog_waiting_in_the_pbs_queue_is_not_resubmitted(self):
        # dask-jobqueue #498: jobs queued for 30 minutes must count, or every step submits and cancels more.
        sim = Sim(P, queue_wait=1800.0)
        sim.run(seconds(3600, 500))
        self.assertEqual(sim.count("submit"), 4)
        self.assertEqual(sim.count("cancel", "retire"), 0)
        self.assertEqual(max(sim.sizes), 4)

    def test_bursts_with_short_gaps_keep_the_jobs(self):
        sim = Sim(P, queue_wait=60.0)
        trace = []
        for _ in range(8):
            trace += seconds(600, 300) + seconds(90, 0)  # 90 s gaps are shorter than the 120 s delay
        sim.run(trace)
        self.assertEqual(sim.count("submit"), 4)
        self.assertEqual(sim.count("cancel", "retire"), 0)
        sim.run(seconds(600, 0))  # the work is over: now, and only now, the jobs go
        self.assertEqual(sim.count("cancel", "retire"), 4)
        self.assertEqual(sim.sizes[-1], 0)
        self.assert_cooldown_kept(sim)

    def test_noisy_demand_on_a_job_boundary_does_not_flap(self):
        rng = random.Random(498)
        sim = Sim(P, queue_wait=30.0)
        sim.run([rng.randint(40, 56) for _ in range(720)])  # one hour around 48 threads = 1 job
        self.assertLessEqual(len(sim.changes()), 2)
        self.assertEqual(sim.count("cancel", "retire"), 0)

    def test_ramp_up_then_down_moves_monotonically(self):
        sim = Sim(P._replace(minimum=1), queue_wait=60.0)
        trace = []
        for tasks in (10, 60, 110, 160, 200, 200, 150, 100, 50, 0):
            trace += seconds(300, tasks)
        sim.run(trace + seconds(600, 0))
        sizes = sim.sizes
        peak = sizes.index(max(sizes))
        self.assertEqual(max(sizes), 4)
        self.assertTrue(all(a <= b for a, b in zip(sizes[:peak], sizes[1:peak + 1])), "no shrink on the way up")
        self.assertTrue(all(a >= b for a, b in zip(sizes[peak:], sizes[peak + 1:])), "no growth on the way down")
        self.assertEqual(sizes[-1], 1, "ends at the minimum")
        self.assertGreaterEqual(min(sizes[1:]), 1)
        self.assert_cooldown_kept(sim)

    def test_random_load_never_breaks_the_bounds_or_the_cooldown(self):
        rng = random.Random(7)
        p = Params(minimum=1, maximum=6, threads_per_job=8, scale_down_delay=60.0, cooldown=20.0)
        sim = Sim(p, queue_wait=45.0)
        trace = []
        while len(trace) < 2000:
            trace += [rng.choice((0, 0, 5, 20, 40, 100))] * rng.randint(1, 40)
        sim.run(trace)
        self.assertTrue(all(p.minimum <= n <= p.maximum for n in sim.sizes[1:]))
        self.assert_cooldown_kept(sim)
        # A job removed and another submitted within the low-demand delay would be the #498 loop.
        last_removal = None
        for t, kind, _ in sim.events:
            if kind in ("cancel", "retire"):
                last_removal = t
            elif kind == "submit" and last_removal is not None:
                self.assertGreaterEqual(t - last_removal, p.cooldown)


if __name__ == "__main__":
    unittest.main()
