// The failure lines the test run gathers above its summary (scripts/failures.mjs), from each reporter's output.
import * as assert from 'node:assert/strict';
import { test } from 'node:test';

const load = () => import('../../scripts/failures.mjs');

test("node's spec reporter: the failing tests section, each test's error included, and nothing after it", async () => {
  const { failureLines } = await load();
  const out = [
    '✖ a (2.7ms)',
    '  AssertionError [ERR_ASSERTION]: one is not two',
    '✔ b (0.3ms)',
    'ℹ fail 1',
    '',
    '✖ failing tests:',
    '',
    'test at f.test.mjs:2:1',
    '✖ a (2.7ms)',
    '  AssertionError [ERR_ASSERTION]: one is not two',
    '      at TestContext.<anonymous> (file:///f.test.mjs:2:24)',
    '',
    '[openpbs] the next file',
    '✔ c (1ms)',
  ].join('\n');
  assert.deepEqual(failureLines(out), [
    '✖ failing tests:',
    '',
    'test at f.test.mjs:2:1',
    '✖ a (2.7ms)',
    '  AssertionError [ERR_ASSERTION]: one is not two',
    '      at TestContext.<anonymous> (file:///f.test.mjs:2:24)',
  ]);
});

test("the editor suite's mocha failures, as relayed, up to its result line; the runners' not ok lines with their details", async () => {
  const { failureLines } = await load();
  const out = [
    '  |  INFO     ✔ hover on `cores` shows its description (341ms)',
    '  |  INFO   50 passing (3m)',
    '  |  INFO   2 failing',
    '  |  INFO   1) Cluster life on the sandbox, through the editor',
    '  |      Error: Timeout of 60000ms exceeded.',
    '  |  INFO gadi-dask-suite-result {"passed":50,"failed":2,"pending":0}',
    'ok - the packaged .vsix is installed (0 ms)',
    'not ok - F1 opens the command palette',
    '  timed out',
    '  screenshot: /tmp/shot.png',
    'ok - next',
  ].join('\n');
  assert.deepEqual(failureLines(out), [
    '  |  INFO   2 failing',
    '  |  INFO   1) Cluster life on the sandbox, through the editor',
    '  |      Error: Timeout of 60000ms exceeded.',
    'not ok - F1 opens the command palette',
    '  timed out',
    '  screenshot: /tmp/shot.png',
  ]);
  assert.deepEqual(failureLines('✔ all good\nℹ fail 0\n'), []);
});

test('a long report is cut, saying how much was left out', async () => {
  const { failureLines } = await load();
  const lines = failureLines(['not ok - many', ...Array.from({ length: 300 }, (_, i) => `  line ${i}`)].join('\n'));
  assert.equal(lines.length, 151);
  assert.match(lines.at(-1)!, /and 151 more lines/);
});
