// Round trips and timings of the cluster lifecycle on the sandbox (real sshd, PBS emulator, Debian's Dask): SSH
// execs for scale to 1, 10 and 50 jobs (the goal is 1 each) and for one status refresh, and the time from `scale 2`
// to two connected workers. Prints figures; asserts nothing about time.
//   node --import tsx test/bench/cluster.ts      (as root: the sandbox creates its own user and sshd)
import { performance } from 'node:perf_hooks';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster } from '../../src/core/cluster/cluster';
import { parseClusterConfig } from '../../src/core/cluster/configFile';
import { refusingPrompt } from '../../src/core/remote/prompt';
import { SshTransportPool } from '../../src/core/remote/sshTransport';
import { CountingTransport, smallClusterYaml } from '../sandbox/clusterFixture';
import { startSandbox } from '../sandbox/sandbox';

// Room for the scheduler and two workers: further jobs wait in the queue, as on a busy cluster.
const NODE_NCPUS = 3;

async function main(): Promise<void> {
  const sb = await startSandbox({ user: 'gdbench' });
  appendFileSync(join(sb.home, '.bash_profile'), `export PBS_EMULATOR_NCPUS=${NODE_NCPUS}\n`);
  const pool = new SshTransportPool({ prompt: refusingPrompt, agent: null, sshConfig: { configFile: sb.sshConfigPath, systemConfigFile: null } });
  const t = new CountingTransport(pool.open(sb.alias));
  const cluster = new Cluster(t, parseClusterConfig(smallClusterYaml('bench', sb.alias)));
  const rows: string[][] = [['action', 'ssh execs', 'uploads', 'ms']];
  const measure = async (label: string, action: () => Promise<unknown>) => {
    t.reset();
    const started = performance.now();
    await action();
    rows.push([label, String(t.execs), String(t.uploads), (performance.now() - started).toFixed(0)]);
  };
  try {
    await measure('up (first: deploy + scheduler job + wait)', () => cluster.up());
    for (const n of [1, 10, 50]) {
      await measure(`scale to ${n} job${n === 1 ? '' : 's'}`, async () => {
        const r = await cluster.scale({ jobs: n });
        if (r.errors.length) throw r.errors[0];
      });
    }
    await measure('status refresh', () => cluster.status());
    await measure('scale to 0 (cancel queued, retire running)', () => cluster.scale({ jobs: 0 }));
    // Time to compute: from asking for two jobs to two workers connected to the scheduler.
    let polls = 0;
    const started = performance.now();
    await cluster.scale({ jobs: 2 });
    const submitted = performance.now() - started;
    for (;;) {
      polls++;
      const s = await cluster.status();
      if (s.counts.workers >= 2) break;
      if (performance.now() - started > 120_000) throw new Error('two workers did not join within 2 minutes');
      await new Promise((r) => setTimeout(r, 200));
    }
    const joined = performance.now() - started;
    await measure('down', () => cluster.down());
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    process.stdout.write(`${rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n')}\n`);
    process.stdout.write(`scale 2 → two workers connected: ${(joined / 1000).toFixed(2)} s (scale itself ${submitted.toFixed(0)} ms, ${polls} status polls)\n`);
  } finally {
    await pool.close();
    await sb.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
