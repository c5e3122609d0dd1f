// Parse time of a 10,000-job `qstat -f -F json` document (goal: under 100 ms), shaped like the real samples in
// test/fixtures/pbs: running, queued, held and finished jobs, array parents and sub-jobs.
//   node --import tsx test/bench/qstat.ts [jobs]
import { performance } from 'node:perf_hooks';
import { parseQstatJson } from '../../src/core/pbs/qstat';

const GOAL_MS = 100;

function job(n: number): [string, Record<string, unknown>] {
  const kind = n % 10;
  const state = ['R', 'R', 'R', 'R', 'Q', 'Q', 'H', 'F', 'B', 'R'][kind];
  const node = `gadi-cpu-clx-${String(n % 3000).padStart(4, '0')}`;
  const id = kind === 9 ? `${n - 1}[${n % 4 + 1}].gadi-pbs` : kind === 8 ? `${n}[].gadi-pbs` : `${n}.gadi-pbs`;
  const started = state === 'R' || state === 'F' || state === 'B';
  const attrs: Record<string, unknown> = {
    Job_Name: 'dask-worker',
    Job_Owner: `abc${n % 900}@gadi-login-0${n % 9 + 1}.gadi.nci.org.au`,
    ...(started && kind !== 8 ? {
      resources_used: { cpupercent: 4700, cput: '93:12:40', mem: '183472912kb', ncpus: 48, vmem: '190123412kb', walltime: '01:57:32' },
    } : {}),
    job_state: state,
    queue: n % 7 === 0 ? 'express' : 'normal',
    server: 'gadi-pbs',
    Checkpoint: 'u',
    ctime: 'Thu Nov 26 16:31:12 2026',
    Error_Path: `gadi-login-01.gadi.nci.org.au:/home/123/abc123/dask-worker.e${n}`,
    ...(started ? { exec_host: `${node}/0*48`, exec_vnode: `(${node}:ncpus=48:mem=187695104kb:jobfs=104857600kb)` } : {}),
    Hold_Types: state === 'H' ? 'u' : 'n',
    Join_Path: 'n',
    Keep_Files: 'n',
    Mail_Points: 'a',
    mtime: 'Thu Nov 26 18:29:01 2026',
    Output_Path: `gadi-login-01.gadi.nci.org.au:/home/123/abc123/dask-worker.o${n}`,
    Priority: 0,
    qtime: 'Thu Nov 26 16:31:12 2026',
    Rerunable: 'True',
    Resource_List: {
      jobfs: '104857600b', mem: '192gb', ncpus: 48, nodect: 1, place: 'free', select: '1:ncpus=48:mem=192GB:jobfs=100GB',
      storage: 'gdata/ab12+scratch/ab12', walltime: '02:00:00', wd: 'True',
    },
    ...(started ? { stime: 'Thu Nov 26 16:31:40 2026', session_id: 24434 + n, jobdir: '/home/123/abc123' } : {}),
    substate: state === 'R' ? 42 : state === 'F' ? 92 : 10,
    Variable_List: {
      PBS_O_HOME: '/home/123/abc123', PBS_O_LOGNAME: 'abc123',
      PBS_O_PATH: '/usr/local/bin:/usr/bin:/bin:/opt/pbs/default/bin:/apps/python3/3.11.7/bin',
      PBS_O_MAIL: '/var/mail/abc123', PBS_O_SHELL: '/bin/bash', PBS_O_WORKDIR: '/home/123/abc123',
      PBS_O_SYSTEM: 'Linux', GADI_DASK_CLUSTER: `cluster-${n % 50}`, PBS_O_QUEUE: 'normal', PBS_O_HOST: 'gadi-login-01.gadi.nci.org.au',
    },
    comment: state === 'Q' ? 'Not Running: Insufficient amount of resource: ncpus (R: 48 A: 12 T: 2976)'
      : state === 'F' ? `Job run at Thu Nov 26 at 16:31 on (${node}:ncpus=48) and finished` : `Job run at Thu Nov 26 at 16:31 on (${node}:ncpus=48)`,
    etime: 'Thu Nov 26 16:31:12 2026',
    ...(state === 'F' ? { obittime: 'Thu Nov 26 18:31:12 2026', Exit_status: 0, history_timestamp: 1795710733 } : {}),
    ...(kind === 8 ? {
      array: 'True', array_state_count: 'Queued:1 Running:3 Exiting:0 Expired:0', array_indices_submitted: '1-4', array_indices_remaining: 1,
    } : {}),
    ...(kind === 9 ? { array_id: `${n - 1}[].gadi-pbs`, array_index: n % 4 + 1 } : {}),
    run_count: started ? 1 : 0,
    Submit_arguments: '-W depend=after:1234.gadi-pbs -v GADI_DASK_CLUSTER',
    project: 'ab12',
    Submit_Host: 'gadi-login-01.gadi.nci.org.au',
  };
  return [id, attrs];
}

export function qstatDocument(count: number): string {
  const jobs = Object.fromEntries(Array.from({ length: count }, (_, i) => job(100_000_000 + i)));
  return JSON.stringify({ timestamp: 1795710847, pbs_version: '2022.1.5', pbs_server: 'gadi-pbs', Jobs: jobs }, null, '\t');
}

function median(f: () => void): { median: number; best: number } {
  for (let i = 0; i < 5; i++) f(); // warm up the JIT
  const runs: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    f();
    runs.push(performance.now() - t0);
  }
  runs.sort((a, b) => a - b);
  return { median: runs[Math.floor(runs.length / 2)], best: runs[0] };
}

function main(): void {
  const count = Number(process.argv[2] ?? 10_000);
  const text = qstatDocument(count);
  const parsed = parseQstatJson(text);
  if (parsed.jobs.length !== count) throw new Error(`parsed ${parsed.jobs.length} jobs, expected ${count}`);
  const ours = median(() => parseQstatJson(text));
  // The floor under any parser of this document: V8's own JSON.parse, for comparison.
  const floor = median(() => JSON.parse(text));
  const mb = (Buffer.byteLength(text) / 1e6).toFixed(1);
  const ms = (n: number) => `${n.toFixed(1)} ms`;
  console.log(`qstat -f -F json, ${count} jobs (${mb} MB): parseQstatJson median ${ms(ours.median)} (best ${ms(ours.best)}); ` +
    `JSON.parse alone median ${ms(floor.median)} (best ${ms(floor.best)}); goal < ${GOAL_MS} ms: ` +
    `${ours.median < GOAL_MS ? 'met' : 'not met'}; ratio to JSON.parse ${(ours.median / floor.median).toFixed(2)} ` +
    '(machine-independent: the typed jobs cost this many times the bare parse)');
}

if (require.main === module) main();
