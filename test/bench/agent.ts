// What the agent costs on a Gadi-like link: a loopback TCP proxy adds 50 ms each way, and the login profile sleeps
// 1 s (Gadi's `module` setup). Prints, without asserting anything about time:
//  - a refresh in session mode against RTT + PBS's own time (the goal: ≤ 1.3×), with the one-shot refresh beside it;
//  - scale to N = 1, 10, 50 jobs: round trips and wall time, against the same N qsubs typed by hand in one exec.
//   node --import tsx test/bench/agent.ts      (as root: the sandbox creates its own user and sshd)
import { performance } from 'node:perf_hooks';
import { Cluster } from '../../src/core/cluster/cluster';
import { parseClusterConfig } from '../../src/core/cluster/configFile';
import { refusingPrompt } from '../../src/core/remote/prompt';
import { SshTransportPool } from '../../src/core/remote/sshTransport';
import { delayProxy, LINK_DELAY_MS, sshConfigThrough } from '../fixtures/delayProxy';
import { CountingTransport, smallClusterYaml } from '../sandbox/clusterFixture';
import { startSandbox } from '../sandbox/sandbox';

const PROLOGUE = `    job-script-prologue: ['if [ -n "$PBS_JOBID" ]; then exec sleep 900; fi']\n`;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const sb = await startSandbox({ user: 'gdbenchagent' });
  const proxy = await delayProxy(sb.port);
  const config = sshConfigThrough(sb, proxy.port, 'slow');
  sb.setLoginProfile('sleep 1');
  const pool = new SshTransportPool({ prompt: refusingPrompt, agent: null, sshConfig: { configFile: config, systemConfigFile: null } });
  const t = new CountingTransport(pool.open('slow'));
  const yaml = smallClusterYaml('benchagent', 'slow', PROLOGUE);
  const oneShot = new Cluster(t, parseClusterConfig(yaml));
  const session = new Cluster(t, parseClusterConfig(yaml), { mode: 'session' });
  const out: string[] = [];
  try {
    await oneShot.scale({ jobs: 3 }, { wait: false });
    const time = async (f: () => Promise<unknown>) => {
      const s = performance.now();
      await f();
      return performance.now() - s;
    };
    await session.status(); // starts the session (one login, one prologue)
    const sessionMs: number[] = [];
    const oneShotMs: number[] = [];
    for (let i = 0; i < 5; i++) sessionMs.push(await time(() => session.status()));
    for (let i = 0; i < 3; i++) oneShotMs.push(await time(() => oneShot.status()));
    // RTT: an exec that does nothing still pays a login; a session hello is one request across the link.
    const rtt = median(await Promise.all([0, 1, 2].map(() => time(() => (session as unknown as { call(op: string, a: object, w: string, o: object): Promise<unknown> })
      .call('hello', {}, 'hello', { timeoutMs: 30_000 })))));
    const ids = (await session.status()).jobs.map((j) => j.id).join(' ');
    const pbs = await t.exec(`s=$(date +%s%N); qselect -u "$USER" >/dev/null; qstat -x -f -F json ${ids} >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000000 ))`, { timeoutMs: 60_000 });
    const pbsMs = Number(pbs.stdout.trim().split('\n').pop());
    const goal = rtt + pbsMs;
    out.push(`link: ${LINK_DELAY_MS} ms each way, login profile 1 s`);
    out.push(`refresh, session mode: median ${median(sessionMs).toFixed(0)} ms; RTT ${rtt.toFixed(0)} ms + PBS ${pbsMs} ms = ${goal.toFixed(0)} ms; ratio ${(median(sessionMs) / goal).toFixed(2)} (goal ≤ 1.3)`);
    out.push(`refresh, one-shot:     median ${median(oneShotMs).toFixed(0)} ms (a login shell each time); ${(median(oneShotMs) / median(sessionMs)).toFixed(1)}× the session`);
    await oneShot.scale({ jobs: 0 });

    out.push('scale to N jobs (one-shot) against the same N qsubs by hand in one exec:');
    for (const n of [1, 10, 50]) {
      t.reset();
      const ours = await time(async () => {
        const r = await oneShot.scale({ jobs: n }, { wait: false });
        if (r.errors.length) throw r.errors[0];
      });
      const trips = t.execs;
      await oneShot.scale({ jobs: 0 }, { waitSeconds: 0 });
      const dir = '~/.gadi-dask/clusters/benchagent';
      const byHand = await time(() => t.exec(`cd ${dir} && for i in $(seq ${n}); do qsub worker.pbs >/dev/null; done`, { timeoutMs: 300_000 }));
      await t.exec('qselect -u "$USER" -N benchagent | xargs -r qdel', { timeoutMs: 300_000 });
      out.push(`  N=${String(n).padStart(2)}: ${trips} round trip(s), ${ours.toFixed(0)} ms; by hand 1 exec, ${byHand.toFixed(0)} ms; ratio ${(ours / byHand).toFixed(2)}`);
    }
    await oneShot.down();
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await pool.close();
    proxy.close();
    await sb.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
