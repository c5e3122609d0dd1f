// Every config in test/fixtures/dask-jobqueue-reference against what dask-jobqueue itself did with
// it (read with yaml.safe_load, set into dask.config, PBSCluster(...).job_script()): the same script, or a lint
// error where dask-jobqueue raised or printed a broken script, and a warning where it warned.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lintText, RULES, type LintDiagnostic } from '../../src/core/config';
import { renderJobScript } from '../../src/core/pbs/jobScript';
import { DASK_JOBQUEUE_PROLOGUES, DASK_JOBQUEUE_REFERENCE as REFERENCE } from '../fixtures/paths';

const cases = readdirSync(join(REFERENCE, 'cases')).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -'.yaml'.length));
const expected = (name: string, ext: string) => {
  const file = join(REFERENCE, 'expected', `${name}.${ext}`);
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
};

/** Diagnostics about how dask reads the file, not Gadi's advice (the cases target Gadi but test dask's reading). */
const reading = (ds: LintDiagnostic[]) => ds.filter((d) => RULES[d.code].scope !== 'gadi');

/** The key files record-secured.py gave PBSCluster(security=Security(...)): a cluster's, as gadi-dask names them. */
const KEYS = '~/.gadi-dask/clusters/demo';
const TLS = { caFile: `${KEYS}/tls-cert.pem`, cert: `${KEYS}/tls-cert.pem`, key: `${KEYS}/tls-key.pem` };
const TLS_FLAGS = ` --protocol tls:// --tls-ca-file ${TLS.caFile} --tls-cert ${TLS.cert} --tls-key ${TLS.key}`;

/**
 * Where the secured script differs on purpose. dask-jobqueue adds `--protocol` to worker_extra_args without reading
 * a null as its default, so with security it raises on `worker-extra-args: null`; gadi-dask reads the null as the
 * default, as dask-jobqueue does without security.
 */
const DELIBERATE_SECURED: Record<string, RegExp> = { 'null-worker-extra-args': /^TypeError: unsupported operand type\(s\) for \+: 'NoneType' and 'list'/ };

/** Our script with dask-jobqueue's scheduler address, dummy worker name and interpreter placeholder. */
function asDask(script: string, pythonUnset: boolean): string {
  return script
    .replace(/ --scheduler-file \S+/, ' tcp://127.0.0.1:PORT')
    .replace(/ --name \S+/, ' --name dummy-name')
    .replace(pythonUnset ? /^python3 -m /m : /^$/, 'PYTHON -m ');
}

test('the reference holds cases of every kind', () => {
  assert.ok(cases.length >= 30, `${cases.length} cases in ${REFERENCE}`);
  for (const ext of ['sh', 'error', 'refuse', 'warnings', 'secured.sh', 'secured.error']) assert.ok(cases.some((c) => expected(c, ext) !== undefined), ext);
});

for (const name of cases) {
  test(`dask-jobqueue reference: ${name}`, () => {
    const text = readFileSync(join(REFERENCE, 'cases', `${name}.yaml`), 'utf8');
    const result = lintText(text);
    const errors = reading(result.diagnostics).filter((d) => d.severity === 'error');
    const why = expected(name, 'error') ?? expected(name, 'refuse');
    const script = why === undefined ? expected(name, 'sh') : undefined;
    if (script !== undefined) {
      assert.deepEqual(errors.map((d) => `${d.code}: ${d.message}`), []);
      assert.ok(result.config, 'the config is accepted');
      const pbs = result.config.jobqueue.pbs;
      const ours = asDask(renderJobScript(pbs, { schedulerFile: '/scheduler.json', lifetime: 'off' }), pbs.python === undefined);
      // The reference files end at the worker command; ours keeps the (empty) epilogue's line.
      assert.equal(ours.trimEnd(), script.trimEnd());
      // The same config with the cluster's keys: what PBSCluster(security=Security(...)) writes.
      const secured = asDask(renderJobScript(pbs, { schedulerFile: '/scheduler.json', lifetime: 'off', tls: TLS }), pbs.python === undefined);
      const raised = expected(name, 'secured.error');
      if (raised !== undefined) {
        assert.match(raised, DELIBERATE_SECURED[name], `dask-jobqueue raised with security: ${raised}`);
        assert.equal(secured.trimEnd(), `${script.trimEnd()}${TLS_FLAGS}`);
      } else {
        assert.equal(secured.trimEnd(), expected(name, 'secured.sh')?.trimEnd(), 'secured');
      }
    } else {
      assert.ok(why, `${name} has an expectation`);
      assert.equal(result.config, undefined, `refused: ${why}`);
      assert.ok(errors.length > 0, `a lint error for: ${why}`);
    }
    const warned = expected(name, 'warnings');
    if (warned !== undefined) {
      const key = warned.split(' ')[0].replace(/_/g, '-');
      assert.ok(result.diagnostics.some((d) => d.code === 'schema/deprecated-key' && d.severity === 'warning' && d.message.includes(`'${key}'`)),
        `a warning about ${key}, as dask-jobqueue's FutureWarning: ${warned}`);
    }
  });
}

// Random prologues and epilogues of 1 to 5 items, items of 1 to 4 lines (block scalars, quoted "\n", empty items,
// indented, tabbed, unicode lines), each file read and written by dask-jobqueue itself: our script is the same,
// byte for byte, up to where the worker joins and its name.
test('multi-line prologues and epilogues: the script is dask-jobqueue\'s, for each recorded random config', () => {
  const recorded = JSON.parse(readFileSync(DASK_JOBQUEUE_PROLOGUES, 'utf8')) as { seed: number; cases: Array<{ config: string; script: string }> };
  assert.ok(recorded.cases.length >= 100, 'enough cases');
  let multiLine = 0;
  for (const [i, c] of recorded.cases.entries()) {
    const result = lintText(c.config);
    const errors = reading(result.diagnostics).filter((d) => d.severity === 'error');
    assert.deepEqual(errors.map((d) => d.message), [], `case ${i} (seed ${recorded.seed}):\n${c.config}`);
    assert.ok(result.config, `case ${i} accepted`);
    const pbs = result.config.jobqueue.pbs;
    const lines = [...(pbs['job-script-prologue'].length ? pbs['job-script-prologue'] : pbs['env-extra'] ?? []), ...pbs['job-script-epilogue']];
    if (lines.some((l) => l.includes('\n'))) multiLine++;
    assert.equal(asDask(renderJobScript(pbs, { schedulerFile: '/scheduler.json', lifetime: 'off' }), false), c.script, `case ${i}:\n${c.config}`);
  }
  assert.ok(multiLine >= recorded.cases.length / 2, `${multiLine} cases hold an item of several lines`);
});
