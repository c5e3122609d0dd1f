// Expected scripts are written out by hand from dask-jobqueue's rules (PBSJob header, Job._command_template and
// _script_template), not produced by the renderer, so a change in any rule shows here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { pbsSchema } from '../../src/core/config/schema';
import {
  defaultProcesses, jobHeaderLines, jobIdOfWorker, renderJobScript, workerCommand, workerLayout, workerLifetime,
  workerNames,
} from '../../src/core/pbs/jobScript';

const pbs = (values: Record<string, unknown>) => pbsSchema.parse(values);
const SCHEDULER_FILE = '/home/123/abc123/.gadi-dask/clusters/demo/scheduler.json';
const ctx = { schedulerFile: SCHEDULER_FILE, lifetime: 'off' as const };

const tutorial = {
  cores: 48,
  memory: '192GB',
  interface: 'ib0',
  queue: 'normal',
  walltime: '02:00:00',
  'local-directory': '$TMPDIR',
  'job-script-prologue': ['module load python3/3.11.7', 'source /g/data/ab12/venv/bin/activate'],
};

test("the tutorial's cluster, as PBSCluster prints it with the select line", () => {
  const script = renderJobScript(pbs({
    ...tutorial,
    'job-extra-directives': ['-P ab12', '-l storage=gdata/ab12+scratch/ab12'],
  }), ctx);
  assert.equal(script, `#!/usr/bin/env bash

#PBS -N dask-worker
#PBS -q normal
#PBS -l select=1:ncpus=48:mem=179GB
#PBS -l walltime=02:00:00
#PBS -P ab12
#PBS -l storage=gdata/ab12+scratch/ab12
module load python3/3.11.7
source /g/data/ab12/venv/bin/activate
python3 -m distributed.cli.dask_worker --scheduler-file ${SCHEDULER_FILE} --name dask-worker-"$PBS_JOBID" --nthreads 6 --memory-limit 22.35GiB --nworkers 8 --nanny --death-timeout 60 --local-directory $TMPDIR --interface ib0

`);
});

test("the tutorial's cluster written for Gadi: select skipped, -P, ncpus/mem/jobfs directives, retirement before walltime", () => {
  const script = renderJobScript(pbs({
    ...tutorial,
    'job-directives-skip': ['select'],
    'job-extra-directives': ['-P ab12', '-l ncpus=48', '-l mem=192GB', '-l jobfs=100GB', '-l storage=gdata/ab12'],
  }), { schedulerFile: SCHEDULER_FILE });
  assert.equal(script, `#!/usr/bin/env bash

#PBS -N dask-worker
#PBS -q normal
#PBS -l walltime=02:00:00
#PBS -P ab12
#PBS -l ncpus=48
#PBS -l mem=192GB
#PBS -l jobfs=100GB
#PBS -l storage=gdata/ab12
module load python3/3.11.7
source /g/data/ab12/venv/bin/activate
python3 -m distributed.cli.dask_worker --scheduler-file ${SCHEDULER_FILE} --name dask-worker-"$PBS_JOBID" --nthreads 6 --memory-limit 22.35GiB --nworkers 8 --nanny --death-timeout 60 --local-directory $TMPDIR --interface ib0 --lifetime 105m --lifetime-stagger 5m

`);
});

test('every key of jobqueue.pbs', () => {
  const opts = pbs({
    name: 'gd-worker',
    cores: 8,
    memory: '28GB',
    processes: 4,
    python: '/g/data/ab12/venv/bin/python',
    interface: 'ib0',
    'death-timeout': 120,
    'local-directory': '$PBS_JOBFS',
    'shared-temp-directory': '/scratch/ab12/tmp', // used by the scheduler for credentials, never in the script
    'worker-command': 'distributed.cli.dask_worker',
    'worker-extra-args': ['--resources', 'GPU=0', '--preload', 'mymod'],
    shebang: '#!/bin/bash -l',
    queue: 'express',
    account: 'ab12',
    walltime: '01:00:00',
    'job-script-prologue': ['module load python3', '', 'export OMP_NUM_THREADS=1'],
    'job-script-epilogue': ['echo done', 'rm -rf $PBS_JOBFS/dask'],
    'resource-spec': 'ncpus=8,mem=28GB',
    'job-extra-directives': ['-P ab12', '-l jobfs=10GB'],
    'job-directives-skip': ['-A'],
    'log-directory': '/scratch/ab12/logs',
    'scheduler-options': { dashboard_address: ':8787' }, // the scheduler's, never in the script
  });
  const script = renderJobScript(opts, {
    schedulerFile: '~/.gadi-dask/clusters/all keys/scheduler.json',
    lifetime: { lifetimeSeconds: 3000, staggerSeconds: 90 },
  });
  assert.equal(script, `#!/bin/bash -l

#PBS -N gd-worker
#PBS -q express
#PBS -l ncpus=8,mem=28GB
#PBS -l walltime=01:00:00
#PBS -e /scratch/ab12/logs/
#PBS -o /scratch/ab12/logs/
#PBS -P ab12
#PBS -l jobfs=10GB
module load python3
export OMP_NUM_THREADS=1
/g/data/ab12/venv/bin/python -m distributed.cli.dask_worker --scheduler-file ~/'.gadi-dask/clusters/all keys/scheduler.json' --name gd-worker-"$PBS_JOBID" --nthreads 2 --memory-limit 6.52GiB --nworkers 4 --nanny --death-timeout 120 --local-directory $PBS_JOBFS --resources GPU=0 --preload mymod --interface ib0 --lifetime 50m --lifetime-stagger 90s
echo done
rm -rf $PBS_JOBFS/dask
`);
});

test('the minimal config: defaults for everything but cores and memory', () => {
  assert.equal(renderJobScript(pbs({ cores: 4, memory: '16GB' }), ctx), `#!/usr/bin/env bash

#PBS -N dask-worker
#PBS -l select=1:ncpus=4:mem=15GB
#PBS -l walltime=00:30:00

python3 -m distributed.cli.dask_worker --scheduler-file ${SCHEDULER_FILE} --name dask-worker-"$PBS_JOBID" --nthreads 1 --memory-limit 3.73GiB --nworkers 4 --nanny --death-timeout 60

`);
});

test('account gives -A unless skipped or empty; queue is printed even when empty, as PBSJob does', () => {
  assert.deepEqual(jobHeaderLines(pbs({ cores: 1, memory: '1GB', account: 'ab12', queue: 'normal' })), [
    '#PBS -N dask-worker', '#PBS -q normal', '#PBS -A ab12', '#PBS -l select=1:ncpus=1:mem=954MB', '#PBS -l walltime=00:30:00',
  ]);
  assert.deepEqual(jobHeaderLines(pbs({ cores: 1, memory: '1GB', account: '', queue: '' })), [
    '#PBS -N dask-worker', '#PBS -q ', '#PBS -l select=1:ncpus=1:mem=954MB', '#PBS -l walltime=00:30:00',
  ]);
});

test('job-directives-skip removes every generated line containing a listed string, never an extra directive', () => {
  assert.deepEqual(jobHeaderLines(pbs({
    cores: 2, memory: '2GB', 'log-directory': 'logs', 'job-directives-skip': ['walltime', 'logs'],
    'job-extra-directives': ['-l walltime=10:00:00', '-o logs/out'],
  })), ['#PBS -N dask-worker', '#PBS -l select=1:ncpus=2:mem=1908MB', '#PBS -l walltime=10:00:00', '#PBS -o logs/out']);
  // The deprecated header-skip is read while job-directives-skip is empty, as dask-jobqueue does.
  assert.deepEqual(jobHeaderLines(pbs({ cores: 2, memory: '2GB', 'header-skip': ['select'] })), [
    '#PBS -N dask-worker', '#PBS -l walltime=00:30:00',
  ]);
  // An empty string is contained in every line: dask-jobqueue then prints no generated directive at all.
  const script = renderJobScript(pbs({ cores: 2, memory: '2GB', 'job-directives-skip': [''] }), ctx);
  assert.ok(script.startsWith('#!/usr/bin/env bash\n\n\n\npython3 -m distributed.cli.dask_worker '), script);
});

test('deprecated env-extra, extra and job-extra count only while their replacements are empty', () => {
  const old = pbs({
    cores: 1, memory: '1GB', 'env-extra': ['module load old'], extra: ['--no-dashboard'], 'job-extra': ['-P old'],
  });
  const script = renderJobScript(old, ctx);
  assert.match(script, /^#PBS -P old$/m);
  assert.match(script, /^module load old\npython3 -m /m);
  assert.match(script, / --death-timeout 60 --no-dashboard\n/);

  const both = pbs({
    cores: 1, memory: '1GB', 'env-extra': ['module load old'], extra: ['--no-dashboard'], 'job-extra': ['-P old'],
    'job-script-prologue': ['module load new'], 'worker-extra-args': ['--no-nanny'], 'job-extra-directives': ['-P new'],
  });
  const script2 = renderJobScript(both, ctx);
  assert.doesNotMatch(script2, /old|--no-dashboard/);
  assert.match(script2, /^#PBS -P new$/m);
  assert.match(script2, /^module load new$/m);
  assert.match(script2, / --death-timeout 60 --no-nanny\n/);
});

test('memory rounding in the select line: PBS binary units, rounded up', () => {
  const mem = (memory: string | number) => jobHeaderLines(pbs({ cores: 4, memory })).find((l) => l.includes('select'));
  assert.equal(mem('16GB'), '#PBS -l select=1:ncpus=4:mem=15GB');
  assert.equal(mem('192GB'), '#PBS -l select=1:ncpus=4:mem=179GB');
  assert.equal(mem('4000MB'), '#PBS -l select=1:ncpus=4:mem=3815MB');
  assert.equal(mem('10GiB'), '#PBS -l select=1:ncpus=4:mem=10GB');
  assert.equal(mem('9GiB'), '#PBS -l select=1:ncpus=4:mem=9216MB');
  assert.equal(mem('100kB'), '#PBS -l select=1:ncpus=4:mem=98kB');
  assert.equal(mem(5000), '#PBS -l select=1:ncpus=4:mem=5000B');
});

test('--memory-limit is memory ÷ processes in format_bytes, rounding ties to even like Python', () => {
  const limit = (memory: string, cores: number, processes?: number) =>
    workerLayout(pbs({ cores, memory, processes })).memoryLimit;
  assert.equal(limit('192GB', 48), '22.35GiB');
  assert.equal(limit('16GB', 4), '3.73GiB');
  assert.equal(limit('4000MB', 4), '0.93GiB'); // 1e9 B ≥ 0.9 GiB
  assert.equal(limit('3000MB', 4), '715.26MiB');
  assert.equal(limit('4GB', 3, 3), '1.24GiB');
  assert.equal(limit('177GiB', 8, 8), '22.12GiB'); // 22.125 exactly: Python prints 22.12
  assert.equal(limit('1000B', 2), '500.0B'); // a Python float below 0.9 kiB prints with ".0"
  assert.equal(limit('1000B', 3, 3), '333.3333333333333B');
});

test('processes default to cores up to 4, else the smallest divisor ≥ √cores', () => {
  const expected: Record<number, number> = {
    1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 3, 7: 7, 8: 4, 9: 3, 12: 4, 16: 4, 24: 6, 28: 7, 32: 8, 36: 6, 48: 8, 64: 8,
    96: 12, 104: 13, 128: 16,
  };
  for (const [cores, processes] of Object.entries(expected)) {
    assert.equal(defaultProcesses(Number(cores)), processes, `cores=${cores}`);
  }
  const layout = workerLayout(pbs({ cores: 28, memory: '256GiB' }));
  assert.deepEqual([layout.processes, layout.threads, layout.memoryLimit], [7, 4, '36.57GiB']);
  const wide = workerLayout(pbs({ cores: 104, memory: '500GiB' }));
  assert.deepEqual([wide.processes, wide.threads], [13, 8]);
  // Explicit processes win; threads are int(cores / processes) even when that leaves cores unused.
  const odd = workerLayout(pbs({ cores: 10, memory: '10GB', processes: 3 }));
  assert.deepEqual([odd.processes, odd.threads], [3, 3]);
});

test('one process: no --nworkers; another worker module: no --nworkers, --nanny nor automatic lifetime', () => {
  const single = workerCommand(pbs({ cores: 1, memory: '2GB' }), { schedulerFile: '/s.json' });
  assert.equal(single,
    'python3 -m distributed.cli.dask_worker --scheduler-file /s.json --name dask-worker-"$PBS_JOBID" --nthreads 1 ' +
    '--memory-limit 1.86GiB --nanny --death-timeout 60 --lifetime 26m --lifetime-stagger 1m');
  const cuda = workerCommand(pbs({ cores: 12, memory: '96GB', processes: 1, 'worker-command': 'dask_cuda.cli' }), { schedulerFile: '/s.json' });
  assert.equal(cuda,
    'python3 -m dask_cuda.cli --scheduler-file /s.json --name dask-worker-"$PBS_JOBID" --nthreads 12 --memory-limit 89.41GiB --death-timeout 60');
});

test('lifetime: derived from the walltime, left to the user when they pass --lifetime, off on request', () => {
  assert.deepEqual(workerLifetime(1800), { lifetimeSeconds: 1560, staggerSeconds: 60 });
  assert.deepEqual(workerLifetime(3600), { lifetimeSeconds: 3060, staggerSeconds: 180 });
  assert.deepEqual(workerLifetime(7200), { lifetimeSeconds: 6300, staggerSeconds: 300 });
  assert.deepEqual(workerLifetime(48 * 3600), { lifetimeSeconds: 171900, staggerSeconds: 300 });
  assert.deepEqual(workerLifetime(600), { lifetimeSeconds: 450, staggerSeconds: 30 });
  assert.deepEqual(workerLifetime(300), { lifetimeSeconds: 165, staggerSeconds: 15 });
  assert.equal(workerLifetime(180), undefined);
  // Retirement always ends before the walltime, with the reserve left for the prologue and the hand-over.
  for (const w of [300, 900, 1800, 5400, 36000, 172800]) {
    const l = workerLifetime(w)!;
    assert.ok(l.lifetimeSeconds + l.staggerSeconds <= w - Math.min(600, Math.max(120, w / 10)), `walltime ${w}`);
  }

  const base = { cores: 2, memory: '4GB', walltime: '04:00:00' };
  assert.match(workerCommand(pbs(base), { schedulerFile: '/s' }), / --lifetime 225m --lifetime-stagger 5m$/);
  assert.match(workerCommand(pbs({ ...base, walltime: 3600 }), { schedulerFile: '/s' }), / --lifetime 51m --lifetime-stagger 3m$/);
  const own = workerCommand(pbs({ ...base, 'worker-extra-args': ['--lifetime', '1h'] }), { schedulerFile: '/s' });
  assert.match(own, / --lifetime 1h$/);
  assert.doesNotMatch(own, /lifetime-stagger/);
  assert.doesNotMatch(workerCommand(pbs(base), { schedulerFile: '/s', lifetime: 'off' }), /lifetime/);
  // A walltime PBS cannot read (the schema rejects it; the renderer must still not throw) gets no lifetime.
  assert.doesNotMatch(workerCommand({ ...pbs(base), walltime: 'soon' }, { schedulerFile: '/s' }), /lifetime/);
  assert.match(workerCommand(pbs(base), { schedulerFile: '/s', lifetime: { lifetimeSeconds: 100 } }), / --lifetime 100s$/);
});

test('walltime given as a number is printed as dask-jobqueue prints it', () => {
  assert.ok(jobHeaderLines(pbs({ cores: 1, memory: '1GB', walltime: 3600 })).includes('#PBS -l walltime=3600'));
});

test('worker names carry the job id; each worker maps back to its job', () => {
  assert.deepEqual(workerNames('dask-worker', '12.gadi-pbs', 1), ['dask-worker-12.gadi-pbs']);
  assert.deepEqual(workerNames('dask-worker', '12.gadi-pbs', 3),
    ['dask-worker-12.gadi-pbs-0', 'dask-worker-12.gadi-pbs-1', 'dask-worker-12.gadi-pbs-2']);
  const jobs = ['12.gadi-pbs', '123.gadi-pbs', '9[2].gadi-pbs'];
  assert.equal(jobIdOfWorker('dask-worker-12.gadi-pbs-5', 'dask-worker', jobs), '12.gadi-pbs');
  assert.equal(jobIdOfWorker('dask-worker-123.gadi-pbs', 'dask-worker', jobs), '123.gadi-pbs');
  assert.equal(jobIdOfWorker('dask-worker-9[2].gadi-pbs-0', 'dask-worker', jobs), '9[2].gadi-pbs');
  assert.equal(jobIdOfWorker('dask-worker-77.gadi-pbs', 'dask-worker', jobs), undefined);
  assert.equal(jobIdOfWorker('other-12.gadi-pbs', 'dask-worker', jobs), undefined);
  assert.equal(jobIdOfWorker('dask-worker-12.gadi-pbs-x', 'dask-worker', jobs), undefined);
});

// Runs the worker command with a stand-in python that prints its arguments, as the job's bash would.
test('the values we add reach the worker intact, whatever they contain', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gd-jobscript-'));
  try {
    const python = join(dir, 'python');
    writeFileSync(python, '#!/bin/sh\nfor a in "$@"; do printf \'%s\\0\' "$a"; done\n');
    chmodSync(python, 0o755);
    fc.assert(fc.property(
      fc.string({ minLength: 1, maxLength: 30 }).filter((s) => !s.includes('\0')),
      fc.string({ minLength: 1, maxLength: 30 }).filter((s) => !s.includes('\0') && !s.startsWith('~')),
      (prefix, file) => {
        const command = workerCommand(pbs({ cores: 1, memory: '1GB', python }), {
          schedulerFile: `/scratch/${file}`, workerNamePrefix: prefix, lifetime: 'off',
        });
        const run = spawnSync('bash', ['-c', command], { env: { PBS_JOBID: '6[2].gadi-pbs', PATH: '/usr/bin:/bin' }, cwd: dir });
        const argv = run.stdout.toString().split('\0').slice(0, -1);
        assert.deepEqual(argv.slice(0, 6), ['-m', 'distributed.cli.dask_worker', '--scheduler-file', `/scratch/${file}`, '--name', `${prefix}-6[2].gadi-pbs`]);
      },
    ), { numRuns: 60 });
    const home = spawnSync('bash', ['-c', workerCommand(pbs({ cores: 1, memory: '1GB', python }), { schedulerFile: '~/a b/s.json', lifetime: 'off' })],
      { env: { HOME: '/home/123/abc123', PBS_JOBID: '1.x', PATH: '/usr/bin:/bin' } });
    assert.equal(home.stdout.toString().split('\0')[3], '/home/123/abc123/a b/s.json');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
