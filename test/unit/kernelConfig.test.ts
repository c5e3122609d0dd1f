// The kernel section: a worker job's size, queue, walltime and python by default; the scheduler's idle-timeout; the
// login node's limits said as for the scheduler; its job script carries no secret and connects Client().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { kernelSettings, renderKernelJobScript } from '../../src/core/cluster/kernel';
import { clusterPaths } from '../../src/core/cluster/names';
import { lintText } from '../../src/core/config/linter';
import { clusterConfigSchema } from '../../src/core/config/schema';
import { cleanGadiConfig, type Root } from '../fixtures/configs';

function parse(root: Root) {
  return clusterConfigSchema.parse(root);
}

function lint(kernel: Record<string, unknown> | undefined) {
  const root: Root = cleanGadiConfig();
  if (kernel) root.kernel = kernel;
  const text = stringify(root, { version: '1.1' });
  const r = lintText(text);
  assert.deepEqual(r.ruleErrors, []);
  return r.diagnostics.map((d) => ({ code: d.code, severity: d.severity, message: d.message, at: text.slice(r.document.offsetAt(d.range.start), r.document.offsetAt(d.range.end)) }));
}

test('without a kernel section the kernel is a worker job\'s size, queue, walltime and python, in a job', () => {
  const root = cleanGadiConfig();
  const pbs = (root.jobqueue as { pbs: Record<string, unknown> }).pbs;
  pbs.python = '/g/data/ab12/venv/bin/python';
  const config = parse(root);
  const k = kernelSettings(config);
  assert.deepEqual(k, {
    placement: 'job', cores: config.jobqueue.pbs.cores, memory: config.jobqueue.pbs.memory, queue: config.jobqueue.pbs.queue,
    walltime: config.jobqueue.pbs.walltime, python: '/g/data/ab12/venv/bin/python', idleTimeout: undefined,
  });
});

test('the kernel section overrides each default; its idle-timeout defaults to the scheduler\'s', () => {
  const root = cleanGadiConfig();
  root.scheduler = { 'idle-timeout': 900 };
  root.kernel = { placement: 'login', cores: 2, memory: '8GB', queue: 'express', walltime: '02:00:00', python: 'python3.11' };
  const k = kernelSettings(parse(root));
  assert.deepEqual(k, { placement: 'login', cores: 2, memory: '8GB', queue: 'express', walltime: '02:00:00', python: 'python3.11', idleTimeout: 900 });
  root.kernel = { 'idle-timeout': 60 };
  assert.equal(kernelSettings(parse(root)).idleTimeout, 60);
});

test('a kernel section lints clean; a wrong key or placement is a schema finding', () => {
  assert.deepEqual(lint({ placement: 'job', cores: 4, memory: '16GB' }), []);
  assert.deepEqual(lint({ cors: 4 }).map((d) => [d.code, d.at]), [['schema/unknown-key', 'cors']]);
  assert.deepEqual(lint({ placement: 'node' }).map((d) => d.code), ['schema/invalid-value']);
});

test('a kernel on the login node for long gets the scheduler\'s warning about Gadi\'s login nodes, with a fix', () => {
  const d = lint({ placement: 'login', walltime: '04:00:00' });
  assert.deepEqual(d.map((x) => [x.code, x.severity, x.at]), [['gadi/login-scheduler', 'warning', 'login']]);
  assert.match(d[0].message, /^The kernel would run on a login node for up to 04:00:00.*placement: job/);
  assert.deepEqual(lint({ placement: 'login', walltime: '00:20:00' }), []);
});

test('the kernel\'s job script: its own size and name, the workers\' project, the TLS client settings, no token', () => {
  const root = cleanGadiConfig();
  root.kernel = { cores: 2, memory: '8GB', walltime: '01:00:00' };
  const config = parse(root);
  const script = renderKernelJobScript({ config, name: 'demo', paths: clusterPaths('demo') });
  assert.match(script, /^#PBS -N dask-kernel-demo$/m);
  assert.match(script, /^#PBS -l ncpus=2$/m);
  assert.match(script, /^#PBS -l mem=7630MB$/m); // 8GB as dask reads it, in PBS's binary units, as the workers'
  assert.match(script, /^#PBS -l walltime=01:00:00$/m);
  assert.match(script, /^#PBS -P /m);
  assert.match(script, /^export DASK_DISTRIBUTED__COMM__TLS__CA_FILE=/m);
  assert.match(script, /run\.py kernel-server --name demo --interface ib0$/m);
  assert.doesNotMatch(script, /token/i);
});
