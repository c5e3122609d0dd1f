// What the PBSCluster code action costs the editor on Python it is asked about at every cursor move: a 5,000-line
// file without a call (no parse at all), the same file with one call the first time (a whole parse), after an edit
// (a parse around the edit) and after a cursor move (none), against one lint of the tutorial config. Ratios, so the figures survive a noisy machine.
// Run: node --import tsx test/bench/convert.ts
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lintText } from '../../src/core/config';
import { callCodeActions } from '../../src/server/service';

const ROOT = join(__dirname, '..', '..');
const config = readFileSync(join(ROOT, 'examples', 'seed-tutorial.dask-cluster.yaml'), 'utf8');
const call = readFileSync(join(ROOT, 'test', 'vscode', 'fixtures', 'workspace', 'python', 'analysis.py'), 'utf8');

function body(lines: number): string {
  const rows: string[] = [];
  for (let i = 0; rows.length < lines; i++) {
    rows.push(`def step_${i}(data, scale=${i}):`, `    """Step ${i} of the analysis."""`, `    result = [x * scale for x in data if x > ${i}]`, '    return sum(result) / max(len(result), 1)', '');
  }
  return `${rows.join('\n')}\n`;
}

function median(work: () => unknown, runs: number): number {
  for (let i = 0; i < Math.max(5, runs / 2); i++) work();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    work();
    samples.push(performance.now() - t0);
  }
  return samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)];
}

const plain = body(5000);
const withCall = `${plain}${call}`;
const at = withCall.split('\n').length - 8;
const range = { start: { line: at, character: 4 }, end: { line: at, character: 4 } };
if (callCodeActions(withCall, range, 'file:///x.py').length !== 1) throw new Error('the call was not found');
if (callCodeActions(plain, range, 'file:///x.py').length !== 0) throw new Error('an action without a call');

const lint = median(() => lintText(config), 200);
const none = median(() => callCodeActions(plain, range, 'file:///x.py'), 200);
let fresh = 0;
const first = median(() => callCodeActions(withCall, range, `file:///fresh-${fresh++}.py`), 20);
let edits = 0;
// Each run a new text, as after a keystroke: the cache cannot help.
const edited = median(() => callCodeActions(`${withCall}# edit ${edits++}\n`, range, 'file:///x.py'), 20);
const moved = median(() => callCodeActions(withCall, range, 'file:///x.py'), 200);
const row = (label: string, ms: number) => process.stdout.write(`${label.padEnd(50)} median ${ms.toFixed(3).padStart(8)} ms  ${(ms / lint).toFixed(2).padStart(7)} × one lint\n`);
row('lint of the tutorial config', lint);
row('code action, 5,000 lines without PBSCluster', none);
row('code action, one PBSCluster, first time', first);
row('code action, one PBSCluster, after an edit', edited);
row('code action, one PBSCluster, after a cursor move', moved);
