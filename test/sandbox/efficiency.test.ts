// Acceptance of the efficiency figures: a worker job whose Dask task keeps one core busy for ~10 s while holding
// ~200 MiB. What /proc says of the job's processes (read here, beside the emulator) is held against the tree's
// description (while it runs), the report and `gadi-dask report --json` (after it ended): CPU efficiency and peak
// memory within 20%. The history on the cluster also has the worker's peak from the scheduler.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from '../../src/core/cluster/cluster';
import { parseClusterConfig } from '../../src/core/cluster/configFile';
import type { ReportJob } from '../../src/core/cluster/report';
import { efficiencySummary, jobEfficiency } from '../../src/core/pbs/efficiency';
import { refusingPrompt } from '../../src/core/remote/prompt';
import { SshTransportPool } from '../../src/core/remote/sshTransport';
import { until as poll } from '../fixtures/poll';
import { cliAs, connectClient, smallClusterYaml } from './clusterFixture';
import { startSandbox, type Sandbox } from './sandbox';

const USER = 'gdeffic';
const NAME = 'eff';
const MiB = 2 ** 20;
const YAML = (host: string) => smallClusterYaml(NAME, host, '    queue: normal\nscheduler: {placement: login}\n');

const BUSY = `
import os
from distributed import Client
def busy(seconds, mib):
    import time
    block = bytearray(mib * 2 ** 20)
    for i in range(0, len(block), 4096):
        block[i] = 1
    end, n = time.process_time() + seconds, 0
    while time.process_time() < end:
        n += 1
    return len(block)
${connectClient(NAME)}print(c.submit(busy, 10, 200, pure=False).result())
c.close()
`;

let sb: Sandbox;
let pool: SshTransportPool;
let work: string;

before(async () => {
  sb = await startSandbox({ user: USER });
  pool = new SshTransportPool({ prompt: refusingPrompt, agent: null, sshConfig: { configFile: sb.sshConfigPath, systemConfigFile: null } });
  work = mkdtempSync(join(tmpdir(), 'efficiency-'));
  chmodSync(work, 0o755);
});

after(async () => {
  await pool?.close();
  await sb?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000) => poll(what, probe, { timeoutMs, everyMs: 500 });

const TICK = 100; // USER_HZ
const PAGE = 4096;

/**
 * CPU seconds (own and reaped children's) and RSS of the sandbox user's processes whose environment names this PBS
 * job. Of that user only: another sandbox's emulator, running beside this one, numbers its jobs the same way.
 */
function measure(jobId: string): { cpu: number; rss: number } {
  let cpu = 0;
  let rss = 0;
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      if (statSync(`/proc/${pid}`).uid !== sb.uid) continue;
      if (!readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`PBS_JOBID=${jobId}`)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from the state on: utime is f[11]
      cpu += (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICK;
      rss += Number(f[21]) * PAGE;
    } catch {
      // gone between the listing and the read
    }
  }
  return { cpu, rss };
}

function within20(actual: number | undefined, expected: number, what: string): void {
  assert.ok(actual !== undefined, `${what}: no figure`);
  assert.ok(Math.abs(actual - expected) <= 0.2 * expected, `${what}: ${actual} is not within 20% of ${expected}`);
}

/** `CPU 34% · mem 214/1024 MB` back into numbers. */
function readSummary(text: string): { cpu: number; memBytes: number } {
  const m = /CPU (\d+)% · mem ([\d.]+)\/[\d.]+ (MB|GB)/.exec(text);
  assert.ok(m, `no figures in "${text}"`);
  return { cpu: Number(m[1]) / 100, memBytes: Number(m[2]) * (m[3] === 'GB' ? 1024 * MiB : MiB) };
}

const cli = (args: string[]) => cliAs(sb, args, join(work, `${NAME}.dask-cluster.yaml`));

describe('a busy worker job', { concurrency: false }, () => {
  let cluster: Cluster;
  let jobId: string;
  let peakRss = 0;
  let cpu = 0;

  before(() => {
    cluster = new Cluster(pool.open(sb.alias), parseClusterConfig(YAML(sb.alias)));
    writeFileSync(join(work, `${NAME}.dask-cluster.yaml`), YAML('unused-with-local'));
    chmodSync(join(work, `${NAME}.dask-cluster.yaml`), 0o644);
  });

  test('while it runs, the tree shows CPU efficiency and peak memory as /proc measured them', async () => {
    await cluster.up();
    const scaled = await cluster.scale({ jobs: 1 });
    jobId = scaled.submitted[0];
    await until('a worker', async () => ((await cluster.status()).counts.workers === 1 ? true : undefined));
    const run = cluster.transport.exec('/usr/bin/python3 -', { stdin: BUSY, timeoutMs: 120_000 });
    let done = false;
    void run.finally(() => (done = true));
    // Refreshes while it runs, as the tree does: the history takes the worker's memory from the scheduler then.
    let refresh: Promise<unknown> | undefined;
    while (!done) {
      peakRss = Math.max(peakRss, measure(jobId).rss);
      refresh ??= cluster.status().finally(() => (refresh = undefined));
      await new Promise((r) => setTimeout(r, 200));
    }
    await refresh;
    const r = await run;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').at(-1), String(200 * MiB));
    cpu = measure(jobId).cpu;
    assert.ok(cpu >= 9.5, `the job used ${cpu} s of CPU`);
    assert.ok(peakRss >= 200 * MiB, `the job held ${peakRss} bytes`);
    const s = await cluster.status();
    const job = s.jobs.find((j) => j.id === jobId)!;
    const shown = readSummary(efficiencySummary(jobEfficiency(job.pbs)));
    within20(shown.cpu, measure(jobId).cpu / job.pbs.used!.walltimeSeconds!, 'CPU efficiency in the tree');
    within20(shown.memBytes, peakRss, 'peak memory in the tree');
  });

  test('after it ended, the report and report --json say the same', async () => {
    await cluster.scale({ jobs: 0 });
    const report = await until('the job finished in the report', async () => {
      const rep = await cluster.report();
      const j = rep.runs.flatMap((x) => x.jobs).find((x) => x.id === jobId);
      return j?.finished ? { rep, j } : undefined;
    });
    const j: ReportJob = report.j;
    within20(j.efficiency.cpu, cpu / j.efficiency.walltimeSeconds!, 'CPU efficiency in the report');
    within20(j.efficiency.memPeakBytes, peakRss, 'peak memory in the report');
    assert.ok(j.efficiency.suSpent! > 0 && j.efficiency.suSpent! < j.efficiency.suEstimate!, JSON.stringify(j.efficiency));
    const [workerPeak] = Object.values(j.workerPeaks);
    assert.ok(workerPeak >= 200 * MiB && workerPeak <= peakRss, `the worker's peak from the scheduler: ${workerPeak}`);

    const cliRun = await cli(['report', '--json']);
    assert.equal(cliRun.code, 0, cliRun.stderr);
    const fromCli = JSON.parse(cliRun.stdout).runs.flatMap((x: { jobs: ReportJob[] }) => x.jobs).find((x: ReportJob) => x.id === jobId);
    within20(fromCli.efficiency.cpu, cpu / fromCli.efficiency.walltimeSeconds, 'CPU efficiency in report --json');
    within20(fromCli.efficiency.memPeakBytes, peakRss, 'peak memory in report --json');
    const text = await cli(['report']);
    assert.match(text.stdout, new RegExp(`^  ${jobId.replace('.', '\\.')}\\s+worker\\s+F`, 'm'));
    await cluster.down();
  });
});
