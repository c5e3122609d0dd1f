// Gentle on a shared PBS server: a cluster with 100 jobs in its journal, watched by the CLI's own wait loop
// (`scale N --wait`) for five minutes, must not exhaust the login node's ports. `qstat ID…` opens one connection
// per id from a privileged port, each left in TIME_WAIT for 60 s; past a few hundred a minute every PBS command on
// the node stalls. The wait must leave few sockets in TIME_WAIT, and every PBS call it makes must stay quick.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { liveJobsOf, startRealPbs, timeWait, type RealPbs } from './realPbs';

const USER = 'gdpbspoll';
const NAME = 'poll';
const HELD = 99; // with the scheduler's job: 100 ids in the journal
const POLL_SECONDS = Number(process.env.GADI_DASK_POLL_SECONDS ?? 300);
const WRAPPER = readFileSync(join(__dirname, 'wrapper.sh'), 'utf8');
let env: RealPbs;
let config: string;

before(async () => {
  env = await startRealPbs(USER);
  config = env.config(NAME);
});
after(() => env?.stop());

test(`scale --wait over ${HELD + 1} journaled jobs for ${POLL_SECONDS} s: few sockets in TIME_WAIT, every PBS call under 1 s`, async () => {
  const up = await env.cli(['up'], config);
  assert.equal(up.code, 0, up.stderr);
  // Held worker jobs under the cluster's job names: adopted by the next look at PBS, never started.
  const t = env.pool.open(env.sb.alias);
  const submits = Array.from({ length: HELD }, () => `qsub -h -N ${NAME}-${randomBytes(4).toString('hex')} -- /bin/sleep 600 >/dev/null`);
  const submitted = await t.exec(submits.join(' && '), { timeoutMs: 120_000 });
  assert.equal(submitted.code, 0, submitted.stderr);
  assert.equal(liveJobsOf(USER).length, HELD + 1);

  for (const name of ['qstat', 'qselect', 'qsub', 'qdel']) env.sb.wrapCommand(name, WRAPPER);
  const log = join(env.sb.home, 'pbs-calls.log');
  rmSync(log, { force: true });
  // Sockets left by the setup's 99 qsubs expire within 60 s; from then on what is in TIME_WAIT is the wait's own.
  const before = timeWait();
  const steadyFrom = Date.now() + 65_000;
  let most = before;
  let steady = { all: 0, privileged: 0 };
  const sampler = setInterval(() => {
    const now = timeWait();
    if (now.all > most.all) most = now;
    if (Date.now() >= steadyFrom && now.all > steady.all) steady = now;
  }, 500);
  // The held jobs never start: the wait goes on until its timeout, as a user's would with a full queue.
  const wait = await env.cli(['scale', String(HELD), '--wait', '--timeout', String(POLL_SECONDS)], config, (POLL_SECONDS + 120) * 1000);
  clearInterval(sampler);
  assert.notEqual(wait.code, 0, 'the workers of held jobs never connect');
  assert.match(wait.stderr, new RegExp(`0/${HELD} workers`), wait.stderr);

  const calls = readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => {
    const [name, ms, rc, argc] = l.split(' ');
    return { name: name!, ms: Number(ms), rc: Number(rc), argc: Number(argc) };
  });
  const slowest = calls.reduce((a, c) => (c.ms > a.ms ? c : a), calls[0]!);
  process.stderr.write(
    `polling ${HELD + 1} jobs for ${POLL_SECONDS} s: ${calls.length} PBS calls ` +
      `(${['qstat', 'qselect'].map((n) => `${calls.filter((c) => c.name === n).length} ${n}`).join(', ')}), slowest ${slowest.name} ${slowest.ms} ms; ` +
      `TIME_WAIT before ${before.all} (${before.privileged} privileged), at most ${most.all} (${most.privileged} privileged), ` +
      `at most ${steady.all} (${steady.privileged} privileged) once the setup's had expired\n`,
  );
  assert.ok(calls.length > 0);
  // The issue's figure: fewer than 50 sockets in TIME_WAIT from the wait, all ports counted. Privileged ports are
  // what ran out (512 of them, each qstat of an id took one); each PBS command also leaves an unprivileged one.
  const own = POLL_SECONDS > 70 ? steady : { all: most.all - before.all, privileged: most.privileged - before.privileged };
  assert.ok(own.all < 50, `${own.all} sockets in TIME_WAIT from the wait (${own.privileged} on privileged ports, of 512)`);
  assert.ok(slowest.ms < 1000, `${slowest.name} took ${slowest.ms} ms`);

  const down = await env.cli(['down'], config);
  assert.equal(down.code, 0, down.stderr);
  assert.deepEqual(liveJobsOf(USER), []);
});
