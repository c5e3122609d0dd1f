// Runs every test layer in order, streams its output, and closes with one line that sums them all.
// A layer may skip itself by printing `# layer skipped: <why>` and exiting 0; the summary shows why.
// Layers report their counts as node's test runner does (`# pass N` / `# fail N`, or `ℹ pass N` with the spec
// reporter); a layer that exits non-zero without counting a failure counts as one failure.
// A layer `beside` another starts with it and is read when that one ends: minutes of waiting on few CPU cycles (a
// cluster held through walltimes) need not add their length to the run. The editor's install (Node 24 and
// code-server, bootstrap.sh editor: a minute and a half of one core and 600 MB written) starts with the first layer
// when a layer that drives VS Code is wanted, at the lowest priority, and is read before the first layer not marked
// `withInstall`: those that follow run jobs on timers, which it should not slow.
import { spawn } from 'node:child_process';

const tsx = ['node', '--import', 'tsx'];
const nodeTest = (glob) => ['bash', '-c', `node --import tsx --test --test-concurrency=1 --test-reporter=spec ${glob}`];
const layers = [
  { name: 'typecheck', cmd: ['npm', 'run', '--silent', 'typecheck'], counted: false, withInstall: true },
  { name: 'lint', cmd: ['npm', 'run', '--silent', 'lint'], counted: false, withInstall: true },
  { name: 'build', cmd: ['node', 'scripts/build.mjs'], counted: false, withInstall: true },
  { name: 'unit', cmd: nodeTest('test/unit/*.test.ts'), withInstall: true },
  { name: 'pbs-emulator', cmd: nodeTest('test/pbs-emulator/*.test.ts') },
  { name: 'runtime', cmd: nodeTest('test/runtime/*.test.ts') },
  { name: 'sandbox', cmd: nodeTest('test/sandbox/*.test.ts') },
  { name: 'long', cmd: nodeTest('test/long/*.test.ts'), beside: 'sandbox' },
  // Real OpenPBS in a private network namespace; skipped, saying why, when its source archive is not there.
  { name: 'openpbs', cmd: ['bash', 'test/openpbs/run.sh'] },
  { name: 'vscode', cmd: [...tsx, 'test/vscode/run.ts'], editor: true },
  { name: 'ui', cmd: [...tsx, 'test/ui/run.ts'], editor: true },
];
const editorInstall = { name: 'code-server', cmd: ['nice', '-n', '19', 'bash', 'scripts/bootstrap.sh', 'editor'], counted: false };

const only = process.argv.slice(2);
const wanted = (layer) => !only.length || only.includes(layer.name);
let passed = 0;
let failed = 0;
const summary = [];

/** Runs a layer; resolves with its exit status, its output (printed when it ends) and its seconds. */
function start(layer) {
  const started = Date.now();
  const child = spawn(layer.cmd[0], layer.cmd.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
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
  if (layer.counted === false) p = 0;
  passed += p;
  failed += f;
  summary.push(`${layer.name.padEnd(13)} ${String(p).padStart(4)} passed ${String(f).padStart(3)} failed  ${seconds.padStart(6)} s`);
  return !(layer.counted === false && status !== 0);
}

let installing = layers.some((l) => l.editor && wanted(l)) ? start(editorInstall) : undefined;
for (const layer of layers.filter((l) => !l.beside && wanted(l))) {
  if (!layer.withInstall && installing) {
    const ok = report(editorInstall, await installing);
    installing = undefined;
    if (!ok) break; // without code-server, the editor's layers cannot run
  }
  const companions = layers.filter((l) => l.beside === layer.name && wanted(l)).map((l) => [l, start(l)]);
  const ok = report(layer, await start(layer));
  for (const [companion, running] of companions) report(companion, await running);
  if (!ok) break; // nothing after a broken build is meaningful
}
for (const layer of layers.filter((l) => l.beside && wanted(l) && !wanted({ name: l.beside }))) report(layer, await start(layer));
installing?.child.kill(); // a run that broke off before the editor's layers
process.stdout.write(`\n=== summary\n${summary.join('\n')}\n${passed} passed, ${failed} failed\n`);
process.exit(failed === 0 ? 0 : 1);
