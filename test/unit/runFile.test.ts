import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { parseClusterConfig } from '../../src/core/cluster/configFile';
import { clusterPaths } from '../../src/core/cluster/names';
import { newRunId, renderRunJobScript, runFileName } from '../../src/core/cluster/runFile';
import { jobHeaderLines } from '../../src/core/pbs/jobScript';

const yaml = (extra = '') => `connection: {host: gadi}
jobqueue:
  pbs:
    name: demo
    cores: 4
    memory: 16GB
    python: ~/venv/bin/python
    job-script-prologue: ['module load python3/3.11.7']
    job-extra-directives: ['-P ab12', '-l storage=gdata/ab12']
    job-directives-skip: [select]
${extra}`;

function scriptFor(text: string, args: string[] = []) {
  const config = parseClusterConfig(text);
  const paths = clusterPaths('demo');
  return { script: renderRunJobScript({ config, name: 'demo', paths }, `${paths.cluster}/runs/R1`, 'job.py', args), config };
}

test('the run job takes the worker job\'s directives and prologue, and its output goes to the run\'s file', () => {
  const { script, config } = scriptFor(yaml());
  const lines = script.split('\n');
  assert.equal(lines[0], '#!/usr/bin/env bash');
  assert.deepEqual(lines.filter((l) => l.startsWith('#PBS ')), jobHeaderLines(config.jobqueue.pbs));
  assert.ok(lines.indexOf('exec >>"$HOME"/.gadi-dask/clusters/demo/runs/R1/output 2>&1') < lines.indexOf('module load python3/3.11.7'));
  assert.match(script, /^"\$HOME"\/venv\/bin\/python "\$HOME"\/\.gadi-dask\/runtime\/[^/]+\/run\.py run-file --name demo --dir "\$HOME"\/\.gadi-dask\/clusters\/demo\/runs\/R1 -- "\$HOME"\/\.gadi-dask\/clusters\/demo\/runs\/R1\/job\.py$/m);
  assert.match(script, /^export PYTHONUNBUFFERED=1$/m);
});

test('with TLS (the default) the job exports the cluster\'s key files as dask config: paths, never keys', () => {
  const { script } = scriptFor(yaml());
  for (const [name, file] of [['TLS__CA_FILE', 'tls-cert.pem'], ['TLS__CLIENT__CERT', 'tls-cert.pem'], ['TLS__CLIENT__KEY', 'tls-key.pem']]) {
    assert.match(script, new RegExp(`^export DASK_DISTRIBUTED__COMM__${name}="\\$HOME"/\\.gadi-dask/clusters/demo/${file.replace('.', '\\.')}$`, 'm'));
  }
  assert.match(script, /^export DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION=True$/m);
  assert.doesNotMatch(script, /PRIVATE KEY|CERTIFICATE/);
  const { script: plain } = scriptFor(yaml('scheduler: {tls: false}'));
  assert.doesNotMatch(plain, /DASK_DISTRIBUTED__COMM/);
});

test('the file\'s arguments reach it as the words they were, through bash', () => {
  const args = ['a b', "it's", '$HOME', '--', '`x`'];
  const { script } = scriptFor(yaml(), args);
  const line = script.split('\n').find((l) => l.includes(' run-file '))!;
  const words = line.slice(line.indexOf('/job.py') + '/job.py'.length);
  const out = execFileSync('bash', ['-c', `for a in ${words}; do printf '%s\\0' "$a"; done`]).toString().split('\0').slice(0, -1);
  assert.deepEqual(out, args);
});

test('file names the cluster keeps, and run ids', () => {
  assert.equal(runFileName('/home/me/analysis.py'), 'analysis.py');
  assert.equal(runFileName('C:/x/my script (2).py'), 'my_script__2_.py');
  assert.equal(runFileName('/x/.hidden.py'), '_.hidden.py');
  assert.equal(runFileName('/x/noext'), 'noext.py');
  assert.match(newRunId(new Date('2026-01-02T03:04:05.678Z')), /^20260102T030405-[0-9a-f]{6}$/);
});
