// The work of the walltime acceptance test and the capacity benchmark: a client of the cluster that scatters data
// (no lineage: a worker that dies with its data fails the run) and computes on it for a while, sampling every second
// how many workers are connected. It prints one JSON line: the result, the result computed without a cluster, and
// the samples. Also what the journal and PBS say of the cluster's worker jobs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectClient, runAs } from './clusterFixture';
import type { Sandbox } from './sandbox';

export interface HoldRun {
  result: number;
  expected: number;
  rounds: number;
  /** Workers connected, one sample a second. */
  samples: number[];
  error?: string;
}

export function holdWorkloadPython(cluster: string, seconds: number): string {
  return `
import json, threading, time
${connectClient(cluster)}
samples, stop = [], threading.Event()
def sample():
    while not stop.is_set():
        try:
            samples.append(len(c.scheduler_info()["workers"]))
        except Exception:
            samples.append(0)
        stop.wait(1.0)
threading.Thread(target=sample, daemon=True).start()
blocks = [list(range(i * 5000, (i + 1) * 5000)) for i in range(20)]
data = c.scatter(blocks)
def work(b, i):
    time.sleep(0.25)
    return sum(x * 2 + i for x in b)
total, rounds, error, t0 = 0, 0, None, time.time()
try:
    while time.time() - t0 < ${seconds}:
        total += sum(c.gather([c.submit(work, d, rounds, pure=False) for d in data]))
        rounds += 1
except Exception as e:
    error = "%s: %s" % (type(e).__name__, e)
while time.time() - t0 < ${seconds}:
    time.sleep(1)  # a run that failed is still sampled to its end: the capacity is over the same span
stop.set()
expected = sum(x * 2 + i for i in range(rounds) for b in blocks for x in b)
print(json.dumps({"result": total, "expected": expected, "rounds": rounds, "samples": samples, "error": error}))
c.close()
`;
}

export interface Capacity {
  seconds: number;
  /** Share of the samples with at least `target` workers. */
  full: number;
  fewest: number;
  /** The longest run of samples below `target`, in seconds. */
  longestDip: number;
}

export function capacity(samples: readonly number[], target: number): Capacity {
  let dip = 0;
  let longest = 0;
  for (const n of samples) {
    dip = n < target ? dip + 1 : 0;
    longest = Math.max(longest, dip);
  }
  return {
    seconds: samples.length,
    full: samples.filter((n) => n >= target).length / Math.max(1, samples.length),
    fewest: samples.length ? Math.min(...samples) : 0,
    longestDip: longest,
  };
}

/** The ids of the worker jobs the cluster's journal says were submitted (by the agent or the scheduler's controller). */
export function journaledWorkers(home: string, cluster: string): string[] {
  const text = readFileSync(join(home, '.gadi-dask', 'clusters', cluster, 'journal.jsonl'), 'utf8');
  return text.trim().split('\n').map((l) => JSON.parse(l) as { op: string; role?: string; id?: string })
    .filter((r) => r.op === 'submitted' && r.role === 'worker').map((r) => r.id!).sort();
}

/** Every worker job PBS has of the cluster, finished ones too (`qselect -x`, by the worker jobs' unique names). */
export async function pbsWorkerJobs(sb: Sandbox, cluster: string): Promise<{ id: string; state: string }[]> {
  const r = await runAs(sb, ['/bin/bash', '-lc', 'qstat -x -f -F json $(qselect -x -u "$USER")']);
  const jobs = (JSON.parse(r.stdout || '{}') as { Jobs?: Record<string, { Job_Name: string; job_state: string }> }).Jobs ?? {};
  const ours = new RegExp(`^${cluster}-[0-9a-f]{8}$`);
  return Object.entries(jobs).filter(([, j]) => ours.test(j.Job_Name)).map(([id, j]) => ({ id, state: j.job_state }))
    .sort((a, b) => a.id.localeCompare(b.id));
}
