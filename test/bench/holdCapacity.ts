// Capacity over time for a cluster held through walltimes, against the same run with one-shot submission, on the
// sandbox (real sshd, the PBS emulator enforcing walltimes, Debian's Dask): worker jobs of 4 minutes, scale 2, and
// the walltime acceptance test's computation on scattered data for MINUTES (default 12). One-shot is the same scale
// with the size not held (adapt off right after it), which is what Scale did before. Prints, per way: the share of
// seconds with 2 workers, the fewest, the longest dip, jobs submitted and ended, jobs submitted per job that ended
// (target 1: N per walltime crossed, never 2N), and whether the computation finished. Asserts nothing about time.
//   node --import tsx test/bench/holdCapacity.ts [MINUTES]     (as root: the sandbox creates its own user and sshd)
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliAs, runAs, smallClusterYaml } from '../sandbox/clusterFixture';
import { capacity, holdWorkloadPython, pbsWorkerJobs, type HoldRun } from '../sandbox/holdWorkload';
import { startSandbox, type Sandbox } from '../sandbox/sandbox';

const MINUTES = Number(process.argv[2] ?? 12);

async function one(sb: Sandbox, work: string, name: string, held: boolean) {
  const config = join(work, `${name}.dask-cluster.yaml`);
  writeFileSync(config, smallClusterYaml(name, 'unused-with-local', "scheduler:\n  walltime: '01:00:00'\n").replace("walltime: '00:20:00'", "walltime: '00:04:00'"));
  chmodSync(config, 0o644);
  const scaled = await cliAs(sb, ['scale', '2', '--wait'], config);
  if (scaled.code !== 0) throw new Error(`scale: ${scaled.stderr}`);
  if (!held) await cliAs(sb, ['adapt', 'off'], config);
  const r = await runAs(sb, ['/bin/bash', '-lc', '/usr/bin/python3 -'], holdWorkloadPython(name, MINUTES * 60));
  const run: HoldRun = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
  const jobs = await pbsWorkerJobs(sb, name);
  await cliAs(sb, ['down'], config);
  const ended = jobs.filter((j) => j.state === 'F').length;
  return { run, cap: capacity(run.samples ?? [], 2), submitted: jobs.length, ended };
}

async function main() {
  const sb = await startSandbox({ user: 'gdbenchhold' });
  const work = mkdtempSync(join(tmpdir(), 'bench-hold-'));
  chmodSync(work, 0o755);
  try {
    process.stdout.write(`Capacity of a cluster of 2 worker jobs of 4 minutes, over ${MINUTES} minutes of computation\n`);
    process.stdout.write('way        2 workers  fewest  longest dip  submitted  ended  per ended  finished\n');
    for (const [label, held] of [['held', true], ['one-shot', false]] as const) {
      const { run, cap, submitted, ended } = await one(sb, work, label === 'held' ? 'benchheld' : 'benchonce', held);
      const perEnded = ended ? ((submitted - 2) / ended).toFixed(2) : '-';
      process.stdout.write(`${label.padEnd(10)} ${`${(cap.full * 100).toFixed(1)} %`.padStart(9)}  ${String(cap.fewest).padStart(6)}  ` +
        `${`${cap.longestDip} s`.padStart(11)}  ${String(submitted).padStart(9)}  ${String(ended).padStart(5)}  ${perEnded.padStart(9)}  ` +
        `${run.error ? `no: ${run.error.slice(0, 80)}` : run.result === run.expected ? 'yes, same result' : 'WRONG RESULT'}\n`);
    }
  } finally {
    await sb.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : e}\n`);
  process.exit(1);
});
