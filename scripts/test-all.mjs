// Runs every test layer in order, streams its output, and closes with one line that sums them all.
// A layer may skip itself by printing `# layer skipped: <why>` and exiting 0; the summary shows why.
// Layers report their counts as node's test runner does (`# pass N` / `# fail N`, or `ℹ pass N` with the spec
// reporter); a layer that exits non-zero without counting a failure counts as one failure.
// Layers `beside` another run one after the other while it runs, and are read when it ends: minutes of waiting on
// few CPU cycles (a cluster held through walltimes, PBS's own pace) need not add their length to the run.
// A preparation (an install or a build some layers need) runs at the lowest priority beside the layers from `from`
// and is read before the layer `until`; when it fails, the layers that need it do not run. The editor's install
// (Chromium, Node 24 and code-server: two to three minutes, 600 MB written) goes beside the first layers, which use
// one core. OpenPBS's build (about five minutes of the two cores' time) goes beside the sandbox layer, which leaves
// about one core idle while its clusters start and wait.
import { spawn } from 'node:child_process';
import { failureLines } from './failures.mjs';
import { LAYER_ENV, watchListeners } from './listeners.mjs';

const tsx = ['node', '--import', 'tsx'];
const nodeTest = (glob) => ['bash', '-c', `node --import tsx --test --test-concurrency=1 --test-reporter=spec ${glob}`];
const layers = [
  { name: 'typecheck', cmd: ['npm', 'run', '--silent', 'typecheck'], counted: false },
  { name: 'lint', cmd: ['npm', 'run', '--silent', 'lint'], counted: false },
  { name: 'build', cmd: ['node', 'scripts/build.mjs'], counted: false },
  { name: 'unit', cmd: nodeTest('test/unit/*.test.ts') },
  { name: 'pbs-emulator', cmd: nodeTest('test/pbs-emulator/*.test.ts') },
  { name: 'runtime', cmd: nodeTest('test/runtime/*.test.ts') },
  { name: 'sandbox', cmd: nodeTest('test/sandbox/*.test.ts') },
  { name: 'long', cmd: nodeTest('test/long/*.test.ts'), beside: 'sandbox' },
  // Real OpenPBS in a private network namespace; skipped, saying why, when its source archive is not there.
  { name: 'openpbs', cmd: ['bash', 'test/openpbs/run.sh'], needs: 'openpbs-build' },
  // The editor's layers after it, not beside: a workbench, its extension host and a sandbox cluster on a machine
  // that also runs PBS's tests had its tests time out (a kernel restart, a tree selection, Dask's client closing).
  { name: 'vscode', cmd: [...tsx, 'test/vscode/run.ts'], needs: 'code-server' },
  { name: 'ui', cmd: [...tsx, 'test/ui/run.ts'], needs: 'code-server' },
];
const lowest = ['nice', '-n', '19'];
const preparations = [
  { name: 'code-server', cmd: [...lowest, 'bash', 'scripts/bootstrap.sh', 'editor'], from: 'typecheck', until: 'pbs-emulator' },
  { name: 'openpbs-build', cmd: [...lowest, 'bash', 'test/openpbs/run.sh', '--build'], from: 'sandbox', until: 'openpbs' },
].map((p) => ({ ...p, counted: false }));

const only = process.argv.slice(2);
const wanted = (layer) => !only.length || only.includes(layer.name);
let passed = 0;
let failed = 0;
const summary = [];
const failures = []; // what each failing layer said of its failures, printed again above the summary

/** Runs a layer; resolves with its exit status, its output (printed when it ends) and its seconds. */
function start(layer) {
  const started = Date.now();
  const env = { ...process.env, [LAYER_ENV]: layer.name };
  const child = spawn(layer.cmd[0], layer.cmd.slice(1), { stdio: ['ignore', 'pipe', 'inherit'], env });
  const chunks = [];
  child.stdout.on('data', (d) => chunks.push(d));
  const ended = new Promise((done) => {
    child.on('close', (status) => done({ status, out: Buffer.concat(chunks).toString(), seconds: ((Date.now() - started) / 1000).toFixed(1) }));
  });
  return Object.assign(ended, { child });
}

/** Prints and counts a finished layer; false when nothing after it is meaningful. */
function report(layer, { status, out, seconds }) {
  process.stdout.write(`\n=== ${layer.name}: ${layer.cmd.join(' ')}${layer.beside ? ` (beside ${layer.beside})` : ''}\n${out}`);
  const count = (word) => [...out.matchAll(new RegExp(`^(?:#|ℹ) ${word} (\\d+)`, 'gm'))].reduce((a, m) => a + Number(m[1]), 0);
  const skipped = /^# layer skipped: (.*)$/m.exec(out);
  if (skipped && status === 0) {
    summary.push(`${layer.name.padEnd(13)} skipped: ${skipped[1]}`);
    return true;
  }
  let p = count('pass');
  let f = count('fail');
  if (status !== 0 && f === 0) f = 1;
  if (layer.counted !== false && status === 0 && p === 0) f += 1; // a layer that ran no test proves nothing
  const wide = listeners.seen(layer.name).map((what) => `not ok - ${layer.name} listened on an address that is not loopback: ${what}`);
  for (const line of wide) process.stdout.write(`${line}\n`);
  f += wide.length;
  if (f > 0) failures.push(`--- ${layer.name}`, ...failureLines(out), ...wide);
  if (layer.counted === false) p = 0;
  passed += p;
  failed += f;
  summary.push(`${layer.name.padEnd(13)} ${String(p).padStart(4)} passed ${String(f).padStart(3)} failed  ${seconds.padStart(6)} s`);
  return !(layer.counted === false && status !== 0);
}

const listeners = watchListeners();
const chosen = layers.filter(wanted);
// A layer beside one that is not wanted runs on its own, in its place.
const main = chosen.filter((l) => !l.beside || !wanted({ name: l.beside }));
const at = (name) => layers.findIndex((l) => l.name === name);
const pending = preparations.filter((p) => chosen.some((l) => l.needs === p.name));
const running = new Map(); // preparation name → its run, null once read
const failedPreparations = new Set();
const runnable = (layer) => {
  if (!failedPreparations.has(layer.needs)) return true;
  summary.push(`${layer.name.padEnd(13)} not run: ${layer.needs} failed`);
  failed += 1;
  return false;
};
for (const layer of main) {
  for (const p of pending.filter((p) => !running.has(p.name) && at(p.from) <= at(layer.name))) running.set(p.name, start(p));
  for (const p of pending.filter((p) => running.get(p.name) && at(p.until) <= at(layer.name))) {
    if (!report(p, await running.get(p.name))) failedPreparations.add(p.name);
    running.set(p.name, null);
  }
  const itself = runnable(layer); // its companions run even when it cannot
  const companions = (async () => {
    const done = [];
    for (const c of chosen.filter((l) => l.beside === layer.name)) {
      if (runnable(c)) done.push([c, await start(c)]);
    }
    return done;
  })();
  const ok = itself ? report(layer, await start(layer)) : true;
  for (const [companion, run] of await companions) report(companion, run);
  if (!ok) break; // nothing after a broken build is meaningful
}
for (const run of running.values()) run?.child.kill(); // a run that broke off before the layers that needed it
if (failures.length) process.stdout.write(`\n=== failures, as each layer reported them\n${failures.join('\n')}\n`);
process.stdout.write(`\n=== summary\n${summary.join('\n')}\n${passed} passed, ${failed} failed\n`);
process.exit(failed === 0 ? 0 : 1);
