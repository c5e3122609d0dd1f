import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runConvert, type ConvertIo } from '../../src/cli/convert';
import { lintText } from '../../src/core/config';

const root = join(__dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'gadi-dask-convert-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

const CALL = 'from dask_jobqueue import PBSCluster\ncluster = PBSCluster(cores=48, memory="192GB", queue="normal", interface="ib0",\n    job_directives_skip=["select"], job_extra_directives=["-P ab12", "-l ncpus=48", "-l mem=192GB"], python=sys.executable)\n';
const script = file('analysis.py', CALL);
const notebook = file('analysis.ipynb', JSON.stringify({
  cells: [{ cell_type: 'markdown', source: '# hi' }, { cell_type: 'code', source: ['%load_ext x\n', CALL] }], nbformat: 4,
}));
const two = file('two.py', `${CALL}other = PBSCluster(cores=4, memory="8GB")\n`);
const jobqueue = file('jobqueue.yaml', 'jobqueue:\n  pbs:\n    cores: 4\n    memory: 8GB\n    queue: null\n    job_extra_directives: ["-P ab12"]\n');

function run(args: string[]) {
  let stdout = '';
  let stderr = '';
  const written = new Map<string, string>();
  const io: ConvertIo = {
    stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; }, readFile: (p) => readFileSync(p, 'utf8'),
    writeFile: (p, t) => void written.set(p, t),
  };
  const code = runConvert(args, io);
  return { code, stdout, stderr, written };
}

test('a .py file: the config on stdout, what could not be converted on stderr and in the file', () => {
  const r = run(['--host', 'gadi-login', script]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^# Cluster config made from the PBSCluster\(\.\.\.\) call in analysis\.py, line 2\.\n/);
  assert.match(r.stdout, /^ {2}host: gadi-login$/m);
  assert.match(r.stdout, /^# {3}python=sys\.executable: an attribute, known only when Python runs$/m);
  assert.equal(r.stderr, 'gadi-dask convert: not converted: python=sys.executable: an attribute, known only when Python runs\n');
  assert.deepEqual(lintText(r.stdout).diagnostics.filter((d) => d.severity === 'error'), []);
});

test('a notebook: the call in its code cell, magics and all; the header names the cell', () => {
  const r = run([notebook]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /in analysis\.ipynb, cell 2\./);
  assert.match(r.stdout, /^ {4}cores: 48$/m);
});

test('several calls need --line; --out writes the file', () => {
  const r = run([two]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /has 2 PBSCluster\(\.\.\.\) calls \(line 2, line 4\); pick one with --line N/);
  const out = join(dir, 'out.dask-cluster.yaml');
  const picked = run(['--line', '4', '--out', out, two]);
  assert.equal(picked.code, 0, picked.stderr);
  assert.equal(picked.stdout, '');
  assert.match(picked.written.get(out) ?? '', /^ {4}cores: 4$/m);
  assert.equal(run(['--line', '3', two]).code, 1);
});

test('--to python turns a config into the call; a jobqueue.yaml becomes a config with nulls dropped', () => {
  const config = run([jobqueue]);
  assert.equal(config.code, 0, config.stderr);
  assert.doesNotMatch(config.stdout, /^ *queue:/m);
  assert.match(config.stdout, /^ {4}job-extra-directives:\n {6}- -P ab12$/m);
  const back = file('back.dask-cluster.yaml', config.stdout);
  const py = run(['--to', 'python', back]);
  assert.equal(py.code, 0, py.stderr);
  assert.equal(py.stdout, 'from dask_jobqueue import PBSCluster\n\ncluster = PBSCluster(\n    cores=4,\n    memory="8GB",\n    job_extra_directives=["-P ab12"],\n)\n');
  const parsed = spawnSync('python3', ['-c', 'import ast, sys; ast.parse(sys.stdin.read())'], { input: py.stdout, encoding: 'utf8' });
  assert.equal(parsed.status, 0, parsed.stderr);
});

test('bad input gets a message and an exit status, never a stack trace', () => {
  assert.equal(run([]).code, 2);
  assert.equal(run(['--to', 'rust', script]).code, 2);
  assert.equal(run(['--line', 'x', script]).code, 2);
  assert.equal(run(['--host', 'a b', script]).code, 2);
  assert.equal(run([join(dir, 'missing.py')]).code, 2);
  const none = run([file('empty.py', 'print(1)\n')]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /has no PBSCluster\(\.\.\.\) call/);
  const badNb = run([file('bad.ipynb', '{')]);
  assert.equal(badNb.code, 1);
  assert.match(badNb.stderr, /not a Jupyter notebook/);
  const badYaml = run(['--to', 'python', file('bad.dask-cluster.yaml', 'jobqueue: [\n')]);
  assert.equal(badYaml.code, 1);
  assert.match(badYaml.stderr, /not valid YAML/);
});

test('the gadi-dask binary runs convert and lists it in its help', () => {
  const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'cli.ts'), ...args], { cwd: root, encoding: 'utf8' });
  const r = cli(['convert', script]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /cores: 48/);
  assert.match(cli(['--help']).stdout, /convert \[--to python\] FILE/);
  assert.match(cli(['convert', '--help']).stdout, /^Usage: gadi-dask convert/);
});
