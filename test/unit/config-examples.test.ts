import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RULES, ruleAnchor } from '../../src/core/config/codes';
import { estimateJobCost } from '../../src/core/config/cost';
import { lintText } from '../../src/core/config/linter';

const root = join(__dirname, '..', '..');
const examples = readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.dask-cluster.yaml'));

test('the examples cover the tutorial and Gadi\'s common queues', () => {
  for (const name of ['seed-tutorial', 'express', 'hugemem', 'gpuvolta', 'normalsr']) {
    assert.ok(examples.includes(`${name}.dask-cluster.yaml`), name);
  }
});

for (const file of examples) {
  test(`examples/${file} lints clean for Gadi`, () => {
    const r = lintText(readFileSync(join(root, 'examples', file), 'utf8'));
    assert.deepEqual(r.diagnostics.map((d) => `${d.range.start.line + 1}: ${d.code} ${d.message}`), []);
    assert.equal(r.site, 'gadi');
    assert.ok(r.config);
    assert.deepEqual(r.ruleErrors, []);
  });
}

test('the tutorial cluster is a whole normal node with the Gadi essentials', () => {
  const r = lintText(readFileSync(join(root, 'examples', 'seed-tutorial.dask-cluster.yaml'), 'utf8'));
  const pbs = r.config!.jobqueue.pbs;
  assert.deepEqual([pbs.queue, pbs.cores, pbs.memory, pbs.interface, pbs['local-directory']], ['normal', 48, '192GB', 'ib0', '$TMPDIR']);
  assert.ok(pbs['job-directives-skip'].includes('select'));
  for (const d of ['-P ab12', '-l ncpus=48', '-l mem=192GB', '-l jobfs=100GB']) assert.ok(pbs['job-extra-directives'].includes(d), d);
  assert.ok(pbs['job-extra-directives'].some((d) => d.startsWith('-l storage=')));
  assert.ok(pbs['job-script-prologue'].some((l) => l.startsWith('module load')));
  // 2 SU per core-hour × 48 cores × 2 h.
  assert.equal(estimateJobCost(pbs)?.su, 192);
});

test('docs/rules.md documents every code, and every code links to its section', () => {
  const doc = readFileSync(join(root, 'docs', 'rules.md'), 'utf8');
  const anchors = new Set([...doc.matchAll(/<a id="([^"]+)"><\/a>/g)].map((m) => m[1]));
  const codes = Object.keys(RULES);
  assert.deepEqual([...anchors].sort(), codes.map(ruleAnchor).sort());
  for (const code of codes) {
    assert.ok(doc.includes(`### \`${code}\``), `section for ${code}`);
    assert.ok(doc.includes(`[\`${code}\`](#${ruleAnchor(code)})`), `table row for ${code}`);
  }
});
