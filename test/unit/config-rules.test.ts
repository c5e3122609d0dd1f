// Each rule: a config that breaks it (the diagnostic appears, at the right place) and one that keeps it (it does not).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { lintText, type LintResult } from '../../src/core/config/linter';
import { cleanGadiConfig, type Pbs, type Root } from '../fixtures/configs';

const base = cleanGadiConfig;

function lint(change: (pbs: Pbs, root: Root) => void): LintResult & { text: string } {
  const root = base();
  change(root.jobqueue.pbs, root);
  const text = stringify(root, { version: '1.1' });
  const r = lintText(text);
  assert.deepEqual(r.ruleErrors, []);
  return { ...r, text };
}

const extras = (pbs: Pbs) => pbs['job-extra-directives'] as string[];
const codesOf = (r: LintResult): string[] => r.diagnostics.map((d) => d.code);

/** The diagnostic with this code (exactly one), and the text its range covers. */
function one(r: LintResult & { text: string }, code: string) {
  const found = r.diagnostics.filter((d) => d.code === code);
  assert.equal(found.length, 1, `${code} once in ${JSON.stringify(r.diagnostics.map((d) => [d.code, d.message]), null, 1)}\n${r.text}`);
  const d = found[0];
  const at = r.text.slice(r.document.offsetAt(d.range.start), r.document.offsetAt(d.range.end));
  return { ...d, at };
}

function none(r: LintResult, code: string) {
  assert.ok(!codesOf(r).includes(code), `no ${code}: ${JSON.stringify(r.diagnostics.map((d) => d.message))}`);
}

test('the base config is clean, and its docUrls point at the rules page', () => {
  const r = lint(() => {});
  assert.deepEqual(r.diagnostics, []);
  assert.equal(r.site, 'gadi');
  assert.ok(r.config);
  const bad = lint((p) => { p.account = 'ab12'; });
  assert.equal(bad.diagnostics[0].docUrl, 'docs/rules.md#gadi-account-directive');
  assert.equal(lintText(bad.text, { docBase: 'https://x/rules.md' }).diagnostics[0].docUrl, 'https://x/rules.md#gadi-account-directive');
});

test('gadi/account-directive: account or -A is an error on its key, with a fix to -P', () => {
  const r = lint((p) => {
    p.account = 'xy12';
    p['job-extra-directives'] = extras(p).filter((d) => !d.startsWith('-P'));
  });
  const d = one(r, 'gadi/account-directive');
  assert.equal(d.at, 'account');
  assert.equal(d.severity, 'error');
  assert.match(d.message, /-P xy12/);
  none(r, 'gadi/project-directive');
  const a = one(lint((p) => { extras(p)[0] = '-A ab12'; }), 'gadi/account-directive');
  assert.equal(a.at, '-A ab12');
  assert.equal(a.fixes![0].title, 'Write -P ab12');
  none(lint(() => {}), 'gadi/account-directive');
  none(lint((p, root) => { p.account = 'ab12'; root.site = 'other'; }), 'gadi/account-directive');
});

test('gadi/select-directive: the generated select line, a select resource-spec or directive', () => {
  const generated = one(lint((p) => {
    p['job-directives-skip'] = [];
    p['job-extra-directives'] = ['-P ab12', '-l jobfs=100GB'];
  }), 'gadi/select-directive');
  assert.equal(generated.at, 'job-directives-skip');
  assert.match(generated.message, /select=1:ncpus=48:mem=179GB/);
  assert.match(generated.fixes![0].title, /-l ncpus=48, -l mem=179GB/);
  const spec = one(lint((p) => {
    p['job-directives-skip'] = [];
    p['resource-spec'] = 'select=1:ncpus=48:mem=192GB';
    p['job-extra-directives'] = ['-P ab12', '-l jobfs=100GB'];
  }), 'gadi/select-directive');
  assert.equal(spec.at, 'select=1:ncpus=48:mem=192GB');
  assert.match(spec.fixes![0].title, /ncpus=48,mem=192GB/);
  const extra = one(lint((p) => { p['job-extra-directives'] = ['-P ab12', '-l select=2:ncpus=24:mem=96GB', '-l jobfs=100GB']; }), 'gadi/select-directive');
  assert.equal(extra.at, 'select=2:ncpus=24:mem=96GB');
  assert.match(extra.fixes![0].title, /ncpus=48,mem=192GB/);
  none(lint(() => {}), 'gadi/select-directive');
  none(lint((p) => { p['resource-spec'] = 'ncpus=48,mem=192GB'; }), 'gadi/select-directive');
  none(lint((p, root) => { root.site = 'pbs-elsewhere'; p['job-directives-skip'] = []; p['job-extra-directives'] = []; }), 'gadi/select-directive');
});

test('pbs/select-mixed: select next to -l ncpus or -l mem, on any site', () => {
  for (const site of ['gadi', 'other']) {
    const r = lint((p, root) => {
      root.site = site;
      p['job-directives-skip'] = [];
    });
    const d = one(r, 'pbs/select-mixed');
    assert.equal(d.at, 'ncpus=48');
    assert.match(d.message, /cannot be used with "select"/);
    none(r, 'gadi/select-directive');
  }
  none(lint(() => {}), 'pbs/select-mixed');
});

test('gadi/project-directive: no -P is an error, with fixes from the projects the file mentions', () => {
  const r = lint((p) => {
    p['job-extra-directives'] = extras(p).filter((d) => !d.startsWith('-P'));
    p['log-directory'] = '/scratch/cd34/logs';
  });
  const d = one(r, 'gadi/project-directive');
  assert.equal(d.at, 'job-extra-directives');
  assert.deepEqual(d.fixes!.map((f) => f.title), ['Add -P cd34', 'Add -P <project>']);
  none(lint(() => {}), 'gadi/project-directive');
});

test('gadi/project-format: a placeholder or odd project code is a warning', () => {
  const d = one(lint((p) => { extras(p)[0] = '-P <project>'; }), 'gadi/project-format');
  assert.equal(d.at, '<project>');
  assert.equal(d.severity, 'warning');
  none(lint((p) => { extras(p)[0] = '-P hh5'; }), 'gadi/project-format');
});

test('gadi/queue-missing and gadi/unknown-queue', () => {
  const missing = one(lint((p) => { delete p.queue; }), 'gadi/queue-missing');
  assert.equal(missing.severity, 'warning');
  assert.equal(missing.at, 'pbs');
  none(lint((p) => { delete p.queue; extras(p).push('-q normal'); }), 'gadi/queue-missing');
  const unknown = one(lint((p) => { p.queue = 'normall'; }), 'gadi/unknown-queue');
  assert.equal(unknown.at, 'normall');
  assert.match(unknown.message, /Did you mean 'normal'/);
  none(lint((p) => { p.queue = 'normal@gadi-pbs'; }), 'gadi/unknown-queue');
});

test('pbs/ncpus-mismatch: cores against -l ncpus, or no -l ncpus at all', () => {
  const d = one(lint((p) => { extras(p)[1] = '-l ncpus=24'; }), 'pbs/ncpus-mismatch');
  assert.equal(d.at, '24');
  assert.match(d.message, /cores is 48 but -l ncpus=24/);
  const absent = one(lint((p) => { extras(p).splice(1, 1); }), 'pbs/ncpus-mismatch');
  assert.equal(absent.at, '48');
  assert.match(absent.message, /default of 1 core/);
  none(lint((p) => { extras(p)[1] = '-l ncpus=48,walltime=02:00:00'; }), 'pbs/ncpus-mismatch');
});

test('pbs/mem-mismatch: memory over -l mem is an error, far under it a warning, equal numbers agree', () => {
  const over = one(lint((p) => { extras(p)[2] = '-l mem=100GB'; }), 'pbs/mem-mismatch');
  assert.equal(over.severity, 'error');
  assert.equal(over.at, '100GB');
  assert.equal(over.fixes![0].title, 'Request -l mem=179GB');
  const waste = one(lint((p) => { p.memory = '64GB'; }), 'pbs/mem-mismatch');
  assert.equal(waste.severity, 'warning');
  const absent = one(lint((p) => { extras(p).splice(2, 1); }), 'pbs/mem-mismatch');
  assert.equal(absent.at, '192GB');
  none(lint((p) => { extras(p)[2] = '-l mem=179gb'; }), 'pbs/mem-mismatch');
  none(lint((p) => { p.memory = '192GiB'; }), 'pbs/mem-mismatch');
});

test('dask/processes-divide-cores and dask/worker-memory, on any site', () => {
  for (const site of ['gadi', 'other']) {
    const d = one(lint((p, root) => { root.site = site; p.processes = 7; }), 'dask/processes-divide-cores');
    assert.equal(d.at, '7');
    assert.equal(d.fixes![0].title, 'Set processes to 8');
  }
  none(lint((p) => { p.processes = 12; }), 'dask/processes-divide-cores');
  const w = one(lint((p) => { p.memory = '6GB'; extras(p)[2] = '-l mem=6GB'; }), 'dask/worker-memory');
  assert.match(w.message, /under 1 GiB/);
  assert.equal(w.fixes![0].title, 'Set processes to 4');
  none(lint(() => {}), 'dask/worker-memory');
});

test('gadi/cores-per-node, gadi/multi-node and gadi/queue-max-cores', () => {
  const odd = one(lint((p) => { p.cores = 60; p.processes = 6; extras(p)[1] = '-l ncpus=60'; }), 'gadi/cores-per-node');
  assert.equal(odd.at, '60');
  assert.match(odd.message, /multiple of 48.*code 32/);
  const two = one(lint((p) => { p.cores = 96; extras(p)[1] = '-l ncpus=96'; extras(p)[2] = '-l mem=384GB'; p.memory = '384GB'; }), 'gadi/multi-node');
  assert.equal(two.severity, 'warning');
  none(lint(() => {}), 'gadi/multi-node');
  const big = one(lint((p) => { p.queue = 'express'; p.cores = 3216; p.processes = 67; extras(p)[1] = '-l ncpus=3216'; }), 'gadi/queue-max-cores');
  assert.match(big.message, /express takes at most 3168 cores/);
  none(lint(() => {}), 'gadi/cores-per-node');
  none(lint(() => {}), 'gadi/queue-max-cores');
});

test('gadi/memory-per-node: memory above what the job\'s nodes have; a 1-core job may take a whole node', () => {
  const d = one(lint((p) => { extras(p)[2] = '-l mem=200GB'; }), 'gadi/memory-per-node');
  assert.equal(d.at, '200GB');
  assert.match(d.message, /normal node has \(192GB\).*code 32/);
  assert.equal(d.fixes![0].title, 'Ask for 192GB');
  none(lint((p) => { p.cores = 1; p.processes = 1; extras(p)[1] = '-l ncpus=1'; }), 'gadi/memory-per-node');
  none(lint((p) => { p.queue = 'hugemem'; p.memory = '1470GB'; extras(p)[2] = '-l mem=1470GB'; }), 'gadi/memory-per-node');
});

test('gadi/walltime-limit: the queue\'s limit for that many cores, and 48 h at most', () => {
  const long = one(lint((p) => { p.walltime = '50:00:00'; }), 'gadi/walltime-limit');
  assert.equal(long.at, '50:00:00');
  assert.match(long.message, /48 h/);
  assert.equal(long.fixes![0].title, 'Set walltime to 48:00:00');
  const express = one(lint((p) => { p.queue = 'express'; p.walltime = '25:00:00'; }), 'gadi/walltime-limit');
  assert.match(express.message, /express allows at most 24 h for a job of 48 cores/);
  const seconds = one(lint((p) => { extras(p).push('-l walltime=180000'); }), 'gadi/walltime-limit');
  assert.equal(seconds.at, '180000');
  none(lint((p) => { p.walltime = '48:00:00'; }), 'gadi/walltime-limit');
  none(lint((p) => { extras(p).push('-l walltime=3600'); }), 'gadi/walltime-limit');
});

test('gadi/gpus: gpuvolta wants ngpus with ncpus = 12 × ngpus; CPU queues have none', () => {
  const gpu = (change: (p: Pbs) => void) => lint((p) => {
    Object.assign(p, { queue: 'gpuvolta', cores: 12, memory: '95GB', processes: 1 });
    p['job-extra-directives'] = ['-P ab12', '-l ncpus=12', '-l mem=95GB', '-l ngpus=1', '-l jobfs=100GB'];
    change(p);
  });
  none(gpu(() => {}), 'gadi/gpus');
  const missing = one(gpu((p) => { extras(p).splice(3, 1); }), 'gadi/gpus');
  assert.equal(missing.fixes![0].title, 'Add -l ngpus=1');
  const ratio = one(gpu((p) => { extras(p)[3] = '-l ngpus=2'; }), 'gadi/gpus');
  assert.equal(ratio.at, '2');
  assert.match(ratio.message, /12 × ngpus/);
  const cpu = one(lint((p) => { extras(p).push('-l ngpus=1'); }), 'gadi/gpus');
  assert.match(cpu.message, /normal has no GPUs/);
});

test('gadi/storage: every /g/data/<p> and other project\'s /scratch/<p> needs its -l storage entry', () => {
  const d = one(lint((p) => { p.python = '/g/data/xy12/envs/dask/bin/python'; }), 'gadi/storage');
  assert.equal(d.at, '/g/data/xy12');
  assert.equal(d.fixes![0].title, 'Add gdata/xy12 to -l storage');
  none(lint((p) => { p.python = '/g/data/xy12/envs/dask/bin/python'; extras(p).push('-l storage=gdata/xy12'); }), 'gadi/storage');
  none(lint((p) => { p['log-directory'] = '/scratch/ab12/logs'; }), 'gadi/storage');
  const other = one(lint((p) => { p['log-directory'] = '/scratch/cd34/logs'; }), 'gadi/storage');
  assert.match(other.message, /scratch\/cd34/);
  const viaProject = one(lint((p) => { (p['job-script-prologue'] as string[]).push('cd /g/data/$PROJECT/work'); }), 'gadi/storage');
  assert.match(viaProject.message, /gdata\/ab12/);
  const two = lint((p) => {
    (p['job-script-prologue'] as string[]).push('source /g/data/hh5/env.sh', 'ls /g/data/xp65');
    extras(p).push('-l storage=scratch/cd34,wd');
  });
  const storage = two.diagnostics.filter((x) => x.code === 'gadi/storage');
  assert.equal(storage.length, 2);
  assert.equal(storage[0].fixes![1].title, 'Add all missing storage (gdata/hh5+gdata/xp65)');
  none(lint(() => {}), 'gadi/storage');
});

test('gadi/jobfs: local-directory on jobfs without -l jobfs=', () => {
  const d = one(lint((p) => { extras(p).splice(3, 1); }), 'gadi/jobfs');
  assert.equal(d.at, '$TMPDIR');
  assert.equal(d.severity, 'warning');
  assert.match(d.message, /exceeding jobfs quota/);
  one(lint((p) => { extras(p).splice(3, 1); p['local-directory'] = '${PBS_JOBFS}/dask'; }), 'gadi/jobfs');
  none(lint((p) => { extras(p).splice(3, 1); p['local-directory'] = '/scratch/ab12/dask'; }), 'gadi/jobfs');
  none(lint(() => {}), 'gadi/jobfs');
});

test('gadi/interface: workers on ib0', () => {
  const d = one(lint((p) => { p.interface = 'eth0'; }), 'gadi/interface');
  assert.equal([d.at, d.severity].join(), 'eth0,warning');
  const unset = one(lint((p) => { delete p.interface; }), 'gadi/interface');
  assert.equal([unset.at, unset.severity].join(), 'pbs,warning');
  none(lint(() => {}), 'gadi/interface');
});

test('gadi/login-scheduler: a scheduler on the login node for more than 30 minutes', () => {
  const d = one(lint((_p, root) => { root.scheduler = { placement: 'login' }; }), 'gadi/login-scheduler');
  assert.equal(d.at, 'login');
  assert.match(d.message, /02:00:00/);
  none(lint((_p, root) => { root.scheduler = { placement: 'login', walltime: '00:20:00' }; }), 'gadi/login-scheduler');
  none(lint((_p, root) => { root.scheduler = { placement: 'job' }; }), 'gadi/login-scheduler');
});

test('dask/tls-off: a warning that says what plain TCP exposes, with a fix that turns TLS on', () => {
  const d = one(lint((_p, root) => { root.scheduler = { placement: 'job', tls: false }; }), 'dask/tls-off');
  assert.equal([d.at, d.severity].join(), 'false,warning');
  assert.match(d.message, /anyone who can reach them on the cluster network .* runs any Python as you/);
  assert.equal(d.fixes![0].title, 'Turn TLS on');
  none(lint((_p, root) => { root.scheduler = { placement: 'job', tls: true }; }), 'dask/tls-off');
  none(lint(() => {}), 'dask/tls-off');
});

test('dask/tls-protocol: a protocol the TLS scheduler would refuse', () => {
  const d = one(lint((p) => { p['scheduler-options'] = { protocol: 'tcp' }; }), 'dask/tls-protocol');
  assert.equal([d.at, d.severity].join(), 'tcp,error');
  none(lint((p) => { p['scheduler-options'] = { protocol: 'tls' }; }), 'dask/tls-protocol');
  none(lint((p, root) => { p['scheduler-options'] = { protocol: 'tcp' }; root.scheduler = { placement: 'job', tls: false }; }), 'dask/tls-protocol');
});

test('pbs/directive-syntax: what qsub cannot read, at its place in the list item', () => {
  const d = one(lint((p) => { extras(p).push('-l mem=lots'); }), 'pbs/directive-syntax');
  assert.equal(d.at, 'lots');
  const prefix = one(lint((p) => { extras(p).push('#PBS -l wd'); }), 'pbs/directive-syntax');
  assert.equal(prefix.fixes![0].title, 'Remove the #PBS prefix');
  none(lint((p) => { extras(p).push('-l software=matlab', '-l other=hyperthread', '-W umask=027'); }), 'pbs/directive-syntax');
});

test('Gadi rules apply to Gadi hosts; other sites get schema and generic rules only', () => {
  const generic = (change: (root: Root) => void) => lint((p, root) => {
    delete root.site;
    p.account = 'ab12';
    change(root);
  });
  assert.equal(generic((root) => { root.connection = { host: 'gadi.nci.org.au' }; }).site, 'gadi');
  assert.equal(generic((root) => { root.connection = { host: 'gadi-login-03' }; }).site, 'gadi');
  assert.equal(generic((root) => { root.connection = { host: 'abc123@gadi' }; }).site, 'gadi');
  const other = generic((root) => { root.connection = { host: 'setonix.pawsey.org.au' }; });
  assert.equal(other.site, 'generic');
  assert.ok(codesOf(other).every((c) => !c.startsWith('gadi/')), JSON.stringify(codesOf(other)));
  const explicit = generic((root) => { root.site = 'elsewhere'; root.connection = { host: 'gadi' }; });
  assert.equal(explicit.site, 'generic');
  one(lint((p, root) => { root.site = 'other'; p.processes = 5; }), 'dask/processes-divide-cores');
});

test('rules still run when another key fails the schema', () => {
  const r = lint((p) => { p['job-script-epilogue'] = 'echo done'; p.account = 'ab12'; });
  one(r, 'schema/invalid-type');
  one(r, 'gadi/account-directive');
  assert.equal(r.config, undefined);
});
