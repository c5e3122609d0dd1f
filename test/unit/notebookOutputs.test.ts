// Jupyter's IOPub messages as a cell's outputs, and the budget that keeps a cell printing 100 MB from reaching the
// editor whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cellOutput, OutputBudget, SHOWN_MIMES } from '../../src/core/notebook/outputs';
import { sessionPath } from '../../src/core/notebook/kernelSession';

const PNG_BYTES = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);

test('streams keep their channel; anything but stderr is stdout', () => {
  assert.deepEqual(cellOutput('stream', { name: 'stderr', text: 'oops\n' }), { kind: 'stream', name: 'stderr', text: 'oops\n' });
  assert.deepEqual(cellOutput('stream', { name: 'stdout', text: 'hi' }), { kind: 'stream', name: 'stdout', text: 'hi' });
});

test('a mime bundle keeps the shown types, richest first: images decoded, JSON as values, split text joined', () => {
  const out = cellOutput('execute_result', {
    execution_count: 3,
    data: {
      'text/plain': ['<Figure ', 'size 640x480>'],
      'image/png': PNG_BYTES.toString('base64'),
      'application/json': { a: [1, 2] },
      'text/html': '<b>x</b>',
      'application/x-unknown': 'dropped',
    },
  });
  assert.ok(out?.kind === 'rich');
  assert.equal(out.result, true);
  assert.deepEqual(out.items.map((i) => i.mime), ['text/html', 'image/png', 'application/json', 'text/plain']);
  assert.deepEqual(Buffer.from(out.items[1]!.bytes!), PNG_BYTES);
  assert.deepEqual(out.items[2]!.json, { a: [1, 2] });
  assert.equal(out.items[3]!.text, '<Figure size 640x480>');
  assert.deepEqual(SHOWN_MIMES.slice(0, 1), ['text/html']);
});

test('display_data is not a result; a bundle with nothing shown is no output; status messages are none', () => {
  const shown = cellOutput('display_data', { data: { 'text/markdown': '# T' } });
  assert.ok(shown?.kind === 'rich' && !shown.result);
  assert.equal(cellOutput('display_data', { data: { 'application/x-widget': {} } }), undefined);
  assert.equal(cellOutput('status', { execution_state: 'busy' }), undefined);
  assert.equal(cellOutput('execute_input', { code: '1' }), undefined);
});

test('an error carries its name, message and the traceback lines joined', () => {
  assert.deepEqual(cellOutput('error', { ename: 'ZeroDivisionError', evalue: 'division by zero', traceback: ['a', 'b'] }),
    { kind: 'error', name: 'ZeroDivisionError', message: 'division by zero', traceback: 'a\nb' });
  assert.deepEqual(cellOutput('clear_output', { wait: true }), { kind: 'clear', wait: true });
});

test('the budget cuts a stream at the limit, drops rich outputs that do not fit, keeps errors, and says what it cut', () => {
  const budget = new OutputBudget(10);
  assert.deepEqual(budget.take({ kind: 'stream', name: 'stdout', text: '123456' }), { kind: 'stream', name: 'stdout', text: '123456' });
  assert.deepEqual(budget.take({ kind: 'stream', name: 'stdout', text: 'abcdefgh' }), { kind: 'stream', name: 'stdout', text: 'abcd' });
  assert.equal(budget.take({ kind: 'stream', name: 'stderr', text: 'more' }), undefined);
  assert.equal(budget.take({ kind: 'rich', result: false, items: [{ mime: 'text/plain', text: 'x' }] }), undefined);
  const error = { kind: 'error', name: 'E', message: 'm', traceback: 't'.repeat(50) } as const;
  assert.equal(budget.take(error), error, 'an error always shows');
  assert.equal(budget.cut, 4 + 4 + 1);
  assert.match(budget.note()!, /^\[gadi-dask\] 9B of this cell's output was not shown \(1 display output among it\): a cell shows at most 10B\./);
  assert.equal(new OutputBudget(10).note(), undefined);
});

test("a notebook's session path is stable, names the file, and carries no local directory", () => {
  const a = sessionPath('file:///home/me/secret-project/run%201.ipynb');
  assert.equal(a, sessionPath('file:///home/me/secret-project/run%201.ipynb'));
  assert.match(a, /^gadi-dask\/[0-9a-f]{12}\/run 1\.ipynb$/);
  assert.ok(!a.includes('secret-project'));
  assert.notEqual(a, sessionPath('file:///home/me/other/run%201.ipynb'));
});
