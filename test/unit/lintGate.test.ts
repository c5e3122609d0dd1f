import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigFileError } from '../../src/core/cluster/errors';
import { checkBeforeSubmit, LintGateError } from '../../src/core/lintGate';

const ok = 'jobqueue:\n  pbs:\n    cores: 4\n    memory: 16GB\n';

test('errors refuse with file:line:col message, one per line; the error is a ConfigFileError naming the file', () => {
  const text = `${ok}    queue: "normal\\n#PBS -l walltime=99:00:00"\n    processes: 3\n`;
  const e = (() => {
    try {
      checkBeforeSubmit(text, '/p/c.dask-cluster.yaml');
    } catch (err) {
      return err;
    }
    return undefined;
  })();
  assert.ok(e instanceof LintGateError && e instanceof ConfigFileError, String(e));
  assert.equal(e.path, '/p/c.dask-cluster.yaml');
  const lines = e.message.split('\n');
  assert.match(lines[0], /^\/p\/c\.dask-cluster\.yaml has \d+ errors, so nothing was submitted:$/);
  assert.ok(lines.includes('/p/c.dask-cluster.yaml:5:12 This value holds a newline: "normal\\n#PBS -l walltime=99:00:00". Job scripts and command lines take values literally: a newline, for one, ends a #PBS directive, and qsub then ignores the directives after it. Remove it (only the items of job-script-prologue, job-script-epilogue, env-extra may span lines).'), e.message);
  assert.ok(lines.some((l) => /^\/p\/c\.dask-cluster\.yaml:6:\d+ /.test(l)), 'processes 3 does not divide 4 cores');
});

test('warnings and a byte-order mark do not block; a long list is cut with a count', () => {
  checkBeforeSubmit(`\uFEFF${ok.replace('16GB', '2GB')}`, 'w.yaml'); // under 1 GiB per worker: a warning
  const many = `${ok}    job-extra-directives: [${Array.from({ length: 14 }, (_, i) => `"-l x${i}\\r"`).join(', ')}]\n`;
  assert.throws(() => checkBeforeSubmit(many, 'm.yaml'), (e: unknown) => e instanceof LintGateError && e.errors.length >= 14 && /… and \d+ more$/.test(e.message));
});
