// `down` right after the scheduler stops, on real PBS, many times over. Stopping the scheduler makes its job (and
// the workers it closes) exit; a qdel that meets a job in state E answers "Request invalid for state of job" with
// exit 168. That is a job leaving, not a failure: down must exit 0, with every job of the cluster recorded as
// cancelled or finished, and nothing of the cluster left in PBS.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { liveJobsOf, startRealPbs, type RealPbs } from './realPbs';
import { replayJournal } from '../fixtures/journal';
import { until } from '../fixtures/poll';

const USER = 'gdpbsdown';
// Two clusters of the same user side by side, each with its rounds in a row: a down of jobs younger than 10 s waits
// out the MoM's grace for young jobs (mom_mach.c), so a round takes ~13 s whatever the commands do, and two at a time
// halve the layer's wait. Each down also meets the other cluster's jobs in the user's list, and leaves them alone.
const CLUSTERS = ['race1', 'race2'];
const ROUNDS = Number(process.env.GADI_DASK_DOWN_ROUNDS ?? 20); // in all, shared between the clusters
let env: RealPbs;

before(async () => {
  env = await startRealPbs(USER);
});
after(() => env?.stop());

const journal = (name: string) => replayJournal(readFileSync(join(env.sb.home, '.gadi-dask', 'clusters', name, 'journal.jsonl'), 'utf8'));
const jobsOfCluster = (name: string) =>
  liveJobsOf(USER).filter((j) => j.name.startsWith(`${name}-`) || j.name.startsWith(`dask-scheduler-${name}-`));

/** `rounds` of scale 1 then down, one after the other; the milliseconds of each down. */
async function roundsOf(name: string, rounds: number): Promise<number[]> {
  const config = env.config(name);
  const downs: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    const up = await env.cli(['scale', '1', '--wait', '--timeout', '120'], config);
    assert.equal(up.code, 0, `${name} round ${round}, scale 1:\n${up.stderr}`);
    const others = jobsOfCluster(CLUSTERS.find((c) => c !== name)!).map((j) => j.id);
    const down = await env.cli(['down'], config);
    downs.push(down.ms);
    assert.equal(down.code, 0, `${name} round ${round}, down:\n${down.stdout}\n${down.stderr}`);
    assert.deepEqual(jobsOfCluster(name).map((j) => `${j.id} ${j.state}`), [], `${name} round ${round}: PBS still runs jobs of the cluster`);
    assert.deepEqual(journal(name), { live: [], unsettled: [] }, `${name} round ${round}: jobs the journal does not know have ended`);
    const named = new Set((down.stdout + down.stderr).split(/[\s,;:()'"]+/));
    assert.deepEqual(others.filter((id) => named.has(id)), [], `${name} round ${round}: down spoke of the other cluster's jobs`);
  }
  return downs;
}

test(`up, a worker, down: ${ROUNDS} rounds, in a row for each of two clusters, each down exits 0 with every job recorded`, async () => {
  const half = Math.ceil(ROUNDS / CLUSTERS.length);
  const downs = (await Promise.all(CLUSTERS.map((c) => roundsOf(c, half)))).flat().sort((a, b) => a - b);
  process.stderr.write(`down on real PBS, ${downs.length} rounds: median ${(downs[downs.length >> 1]! / 1000).toFixed(1)} s, max ${(downs.at(-1)! / 1000).toFixed(1)} s\n`);
});

test('after the last down, a new scale submits every job it needs (nothing still counted from before)', async () => {
  const config = env.config(CLUSTERS[0]!);
  const r = await env.cli(['scale', '2', '--no-wait'], config);
  assert.equal(r.code, 0, r.stderr);
  const jobs = await until('the scheduler and two workers in PBS', async () => {
    const live = liveJobsOf(USER);
    return live.length === 3 ? live : undefined;
  }, { timeoutMs: 60_000, everyMs: 500 });
  assert.equal(jobs.filter((j) => j.name.startsWith('dask-scheduler-')).length, 1);
  const down = await env.cli(['down'], config);
  assert.equal(down.code, 0, down.stderr);
});
