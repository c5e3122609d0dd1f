import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLint, type LintIo, type LintRow } from '../../src/cli/lint';

const root = join(__dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'gadi-dask-lint-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const clean = file('clean.dask-cluster.yaml', 'jobqueue:\n  pbs:\n    cores: 4\n    memory: 16GB\n');
const broken = file('broken.dask-cluster.yaml', 'site: gadi\njobqueue:\n  pbs:\n    cores: 48\n    memory: 192GB\n    account: ab12\n');
const warned = file('warned.dask-cluster.yaml', 'jobqueue:\n  pbs:\n    cores: 4\n    memory: 16GB\n    env-extra: [module load x]\n');

function run(args: string[]) {
  let stdout = '';
  let stderr = '';
  const io: LintIo = { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; }, readFile: (p) => readFileSync(p, 'utf8') };
  const code = runLint(args, io);
  return { code, stdout, stderr };
}

test('text format: file:line:col severity code message, exit 1 on an error', () => {
  const r = run([broken]);
  assert.equal(r.code, 1);
  const lines = r.stdout.trim().split('\n');
  assert.ok(lines.includes(`${broken}:6:5 error gadi/account-directive account makes dask-jobqueue write '#PBS -A ab12', but Gadi takes the project as -P: put '-P ab12' in job-extra-directives instead.`), r.stdout);
  for (const line of lines) assert.match(line, /^.+:\d+:\d+ (error|warning|information|hint) [a-z]+\/[a-z-]+ \S/);
  assert.equal(r.stderr, '');
});

test('json format: 1-based lines and columns, one row per diagnostic, across files', () => {
  const r = run(['--format', 'json', clean, broken]);
  assert.equal(r.code, 1);
  const rows = JSON.parse(r.stdout) as LintRow[];
  const account = rows.find((x) => x.code === 'gadi/account-directive')!;
  assert.deepEqual(account, {
    file: broken, line: 6, column: 5, endLine: 6, endColumn: 12, severity: 'error', code: 'gadi/account-directive',
    message: account.message,
  });
  assert.ok(rows.every((x) => x.file === broken));
  assert.deepEqual(Object.keys(rows[0]), ['file', 'line', 'column', 'endLine', 'endColumn', 'severity', 'code', 'message']);
  assert.deepEqual(JSON.parse(run(['--format=json', clean]).stdout), []);
});

test('exit 0 when clean or only warnings', () => {
  assert.deepEqual(run([clean]), { code: 0, stdout: '', stderr: '' });
  const w = run([warned]);
  assert.equal(w.code, 0);
  assert.match(w.stdout, /:5:5 warning schema\/deprecated-key /);
});

test('an unreadable file is a clear message and exit 2; usage errors are exit 2', () => {
  const missing = join(dir, 'nope.yaml');
  const r = run([clean, missing, broken]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, `gadi-dask lint: cannot read ${missing}: no such file\n`);
  assert.match(r.stdout, /gadi\/account-directive/, 'the readable files are still linted');
  assert.match(run([dir]).stderr, /cannot read .*: it is a directory/);
  assert.equal(run([]).code, 2);
  assert.match(run(['--format', 'xml', clean]).stderr, /--format must be text or json/);
  assert.equal(run(['--bogus', clean]).code, 2);
  const help = run(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: gadi-dask lint/);
});

test('a BOM does not shift columns', () => {
  const bom = file('bom.dask-cluster.yaml', '\uFEFFjobqueue:\n  pbs:\n    cores: x\n    memory: 16GB\n');
  assert.match(run([bom]).stdout, /:3:12 error schema\/invalid-type/);
});

test('the gadi-dask command runs lint and returns its exit status', () => {
  const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'cli.ts'), ...args], { cwd: root, encoding: 'utf8' });
  const bad = cli(['lint', broken]);
  assert.equal(bad.status, 1, bad.stderr);
  assert.match(bad.stdout, /gadi\/account-directive/);
  const ok = cli(['lint', '--format', 'json', join(root, 'examples', 'seed-tutorial.dask-cluster.yaml')]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout.trim(), '[]');
  assert.equal(cli(['lint', join(dir, 'missing.yaml')]).status, 2);
  assert.match(cli(['--help']).stdout, /lint \[--format text\|json\] FILE/);
});
