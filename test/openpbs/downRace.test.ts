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
const NAME = 'race';
const ROUNDS = Number(process.env.GADI_DASK_DOWN_ROUNDS ?? 20);
let env: RealPbs;
let config: string;

before(async () => {
  env = await startRealPbs(USER);
  config = env.config(NAME);
});
after(() => env?.stop());

const journal = () => replayJournal(readFileSync(join(env.sb.home, '.gadi-dask', 'clusters', NAME, 'journal.jsonl'), 'utf8'));

test(`up, a worker, down: ${ROUNDS} rounds in a row, each down exits 0 with every job recorded`, async () => {
  const downs: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const up = await env.cli(['scale', '1', '--wait', '--timeout', '120'], config);
    assert.equal(up.code, 0, `round ${round}, scale 1:\n${up.stderr}`);
    const down = await env.cli(['down'], config);
    downs.push(down.ms);
    assert.equal(down.code, 0, `round ${round}, down:\n${down.stdout}\n${down.stderr}`);
    assert.deepEqual(liveJobsOf(USER).map((j) => `${j.id} ${j.state}`), [], `round ${round}: PBS still runs jobs of the cluster`);
    assert.deepEqual(journal(), { live: [], unsettled: [] }, `round ${round}: jobs the journal does not know have ended`);
  }
  downs.sort((a, b) => a - b);
  process.stderr.write(`down on real PBS, ${ROUNDS} rounds: median ${(downs[downs.length >> 1]! / 1000).toFixed(1)} s, max ${(downs.at(-1)! / 1000).toFixed(1)} s\n`);
});

test('after the last down, a new scale submits every job it needs (nothing still counted from before)', async () => {
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
