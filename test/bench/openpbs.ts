// On real OpenPBS, from the same account in the same run: (a) `gadi-dask scale N --wait` over SSH (the shipped
// bundle, dist/cli.js), from process start until it returns with N workers, against dask-jobqueue's own
// PBSCluster.scale(jobs=N) + wait_for_workers(N) (its source beside the clone, on Debian's distributed), for
// N = 1, 2, 4; (b) `gadi-dask down` until PBS has none
// of the cluster's jobs, against qdel of the same jobs by hand until PBS has none. Medians of RUNS, every run
// printed. Targets: (a) ≤ 1.2 × PBSCluster, (b) ≤ 1.2 × by hand. Asserts nothing about time.
// Beside (a), the editor's Scale Cluster as the palette runs it (commands/scale.ts): in a process that is already
// running, over the connection and session agent it keeps open, scale then the tree's snapshot then the wait for N
// workers; PBSCluster's figure is of a warm process too, while the CLI's includes its own start. The first CLI
// command of the benchmark leaves the CLI's background process (src/cli/server.ts), which runs the next ones, as
// it does for a user typing one command after another; each run says where it ran.
//   bash test/openpbs/run.sh --bench test/bench/openpbs.ts
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ClusterManager } from '../../src/core/cluster/cluster';
import { parseClusterConfig } from '../../src/core/cluster/configFile';
import { runAs } from '../sandbox/clusterFixture';
import { until } from '../fixtures/poll';
import { liveJobsOf, PBS_BIN, startRealPbs } from '../openpbs/realPbs';

const USER = 'gdpbsbench';
const NAME = 'bench';
const SIZES = [1, 2, 4];
const RUNS = Number(process.env.GADI_DASK_BENCH_RUNS ?? 5); // fewer for a quick look; the figures are of five
// Which halves run (a quick look at one): `scale`, `down`, or both (the default).
const PARTS = (process.env.GADI_DASK_BENCH_PARTS ?? 'scale,down').split(',');
// Where `scale N --wait` spends its time, from the CLI's trace (GADI_DASK_TRACE=1: milliseconds since its process
// started, then the step): each phase ends at the first trace line matching its pattern, after the previous one.
const PHASES: [string, RegExp][] = [
  ['node + bundle', /cli: scale started/],
  ['config + lint gate', /ssh: connecting/],
  ['ssh sign-in', /ssh: signed in/],
  ['agent channel', /agent: channel open/],
  ['login shell + bootstrap', /agent: the bootstrap hands over to python/],
  ['python + apply (qsub)', /apply: answered/],
  // From the scale's answer: PBS starts the jobs, their workers start and connect, the wait hears of it (and takes
  // a snapshot of PBS once it has waited a second).
  ['until N workers', /cli: wait done/],
];

const GOAL = 1.2;
// PBS's qstat sleeps 200 ms when the same user ran qstat earlier in the same second (OpenPBS delay_query(), as PBS
// Pro does): a timed scale starts a second after the previous command's last qstat, as a user's would, and not in
// the second the benchmark's own `scale 0` ended in. (PBSCluster's scale and wait run no qstat.)
const pause = () => new Promise((r) => setTimeout(r, 1100));
const pastGrace = () => new Promise((r) => setTimeout(r, 11_000));
const ROOT = resolve(__dirname, '..', '..');
const DASK_JOBQUEUE = join(dirname(ROOT), 'shared', 'dask-jobqueue');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const s = (ms: number) => (ms / 1000).toFixed(2);

/** Milliseconds of each phase (and 'exit': from the wait's end until the process ended, `total` ms after start). A
 * command run by the background process (src/cli/server.ts) has no sign-in and no agent start: those phases are
 * absent, and 'node + bundle' is the launcher until the background process started the command. */
function phases(stderr: string, total: number): Map<string, number> {
  const lines = [...stderr.matchAll(/^trace (\d+) ms (.*)$/gm)].map((m) => ({ at: Number(m[1]), what: m[2]! }));
  const out = new Map<string, number>();
  let from = 0;
  let i = 0;
  for (const [name, pattern] of PHASES) {
    const at = lines.findIndex((l, k) => k >= i && pattern.test(l.what));
    if (at < 0) continue;
    out.set(name, lines[at]!.at - from);
    from = lines[at]!.at;
    i = at;
  }
  out.set('exit', total - from);
  return out;
}

/** Whether the background process ran the command (it signed in nowhere itself). */
const kept = (stderr: string) => !/^trace \d+ ms ssh: connecting/m.test(stderr);

async function main(): Promise<void> {
  // The CLI as it ships in the .vsix: the minified bundle `npm run package` builds (the source through tsx starts
  // 0.3-0.7 s slower).
  const built = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs'), '--production'], { stdio: 'inherit' });
  if (built.status !== 0) throw new Error('the build failed');
  process.env.GADI_DASK_TRACE = '1'; // the CLI's steps with their times, on its stderr: the breakdown below
  const env = await startRealPbs(USER, (args) => [process.execPath, join(ROOT, 'dist', 'cli.js'), ...args]);
  let manager: ClusterManager | undefined;
  try {
    const config = env.config(NAME);
    const ok = async (args: string[]) => {
      const r = await env.cli(args, config);
      if (r.code !== 0) throw new Error(`gadi-dask ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
      return r;
    };
    const noJobs = () => until('PBS to have none of the account\'s jobs', () => liveJobsOf(USER).length === 0 || undefined, { timeoutMs: 120_000, everyMs: 200 });
    const workerJobs = () => liveJobsOf(USER).filter((j) => j.name.startsWith(`${NAME}-`));
    const toZero = async () => {
      await ok(['scale', '0']);
      await until('no worker jobs', () => workerJobs().length === 0 || undefined, { timeoutMs: 120_000, everyMs: 200 });
    };

    // Run by run, ours then PBSCluster's, so a slow minute of the machine falls on both alike.
    const ours = new Map<number, number[]>();
    const editor = new Map<number, number[]>();
    const breakdown = new Map<number, Map<string, number>[]>();
    // The editor's connection: one agent session for the whole benchmark, as the extension keeps one per host.
    manager = new ClusterManager(env.pool.open(env.sb.alias), { mode: 'session' });
    const inEditor = manager.cluster(parseClusterConfig(readFileSync(config, 'utf8')));
    const theirs = new Map<number, number[]>();
    const add = (m: Map<number, number[]>, n: number, ms: number) => m.set(n, [...(m.get(n) ?? []), ms]);
    for (let run = 0; PARTS.includes('scale') && run < RUNS; run++) {
      await ok(['up']);
      for (const n of SIZES) {
        await pause();
        const r = await ok(['scale', String(n), '--wait']);
        add(ours, n, r.ms);
        const p = phases(r.stderr, r.ms);
        breakdown.set(n, [...(breakdown.get(n) ?? []), p]);
        const where = kept(r.stderr) ? 'in the background process' : 'in its own process';
        process.stdout.write(`run ${run + 1}: gadi-dask scale ${n} --wait ${s(r.ms)} s ${where} (${[...p].map(([k, v]) => `${k} ${s(v)}`).join(', ')})\n`);
        await toZero();
        await inEditor.status(); // the tree's timed refresh has the session agent running before the user scales
        await pause();
        const from = performance.now();
        await inEditor.scale({ jobs: n }, { wait: false });
        await inEditor.status();
        await inEditor.waitForWorkers(n, { timeoutMs: 300_000 });
        add(editor, n, performance.now() - from);
        process.stdout.write(`run ${run + 1}: Scale Cluster in the editor to ${n} ${s(editor.get(n)!.at(-1)!)} s\n`);
        await toZero();
      }
      await ok(['down']);
      await noJobs();
      const py = await runAs(env.sb, ['/usr/bin/python3', join(__dirname, 'openpbs_pbscluster.py'), SIZES.join(','), '1'], '', {
        PATH: `${PBS_BIN}:/usr/bin:/bin`, PYTHONPATH: DASK_JOBQUEUE, PYTHONDONTWRITEBYTECODE: '1',
      });
      const got = [...py.stdout.matchAll(/^pbscluster (\d+) ([\d.]+)$/gm)];
      if (py.code !== 0 || got.length !== SIZES.length) throw new Error(`PBSCluster's run failed:\n${py.stdout}${py.stderr}`);
      for (const m of got) {
        add(theirs, Number(m[1]), Number(m[2]) * 1000);
        process.stdout.write(`run ${run + 1}: PBSCluster scale(jobs=${m[1]}) + wait_for_workers ${Number(m[2]).toFixed(2)} s\n`);
      }
      await noJobs();
    }

    // down against qdel by hand, both from a running scheduler and two workers until PBS has none of the jobs. Both
    // start once the jobs are older than 10 s: PBS's MoM declares no task of a younger job ended (a grace in its
    // mom_mach.c), so a down right after the scale would time that grace, the same for both, and not the commands.
    const downs: number[] = [];
    const byHand: number[] = [];
    const t = env.pool.open(env.sb.alias);
    for (let run = 0; PARTS.includes('down') && run < RUNS; run++) {
      await ok(['scale', '2', '--wait']);
      await pastGrace();
      const from = performance.now();
      await ok(['down']);
      await noJobs();
      downs.push(performance.now() - from);
      await ok(['scale', '2', '--wait']);
      await pastGrace();
      const ids = liveJobsOf(USER).map((j) => j.id);
      const started = performance.now();
      await t.exec(`qdel ${ids.join(' ')}`);
      await until('the deleted jobs to leave PBS', async () => (await t.exec(`qselect -u ${USER}`)).stdout.trim() === '' || undefined, { timeoutMs: 120_000, everyMs: 200 });
      byHand.push(performance.now() - started);
      process.stdout.write(`run ${run + 1}: down ${s(downs.at(-1)!)} s, qdel by hand until empty ${s(byHand.at(-1)!)} s\n`);
    }

    process.stdout.write(`\nmedians of ${RUNS} (target ≤ ${GOAL}×):\n`);
    for (const n of PARTS.includes('scale') ? SIZES : []) {
      const a = median(ours.get(n)!);
      const b = median(theirs.get(n)!);
      const e = median(editor.get(n)!);
      process.stdout.write(`  N=${n}: gadi-dask scale --wait ${s(a)} s, PBSCluster ${s(b)} s, ratio ${(a / b).toFixed(2)}; ` +
        `Scale Cluster in the editor ${s(e)} s, ratio ${(e / b).toFixed(2)}\n`);
      const runs = breakdown.get(n)!;
      const names = [...PHASES.map(([name]) => name), 'exit'];
      // Of the runs that had the phase (those in the background process have no sign-in and no agent start).
      const had = (k: string) => runs.map((p) => p.get(k)).filter((v): v is number => v !== undefined);
      process.stdout.write(`        of which (median of each phase, in the runs that had it): ${names.filter((k) => had(k).length).map((k) => `${k} ${s(median(had(k)))} (${had(k).length})`).join(', ')}\n`);
    }
    if (PARTS.includes('down')) process.stdout.write(`  down ${s(median(downs))} s, qdel by hand ${s(median(byHand))} s, ratio ${(median(downs) / median(byHand)).toFixed(2)}\n`);
  } finally {
    manager?.close();
    spawnSync('pkill', ['-TERM', '-f', join(ROOT, 'dist', 'cli.js')]); // the CLI's background process, if one is left
    await env.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
