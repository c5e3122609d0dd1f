// Completion from the language service: keys with docs at every level, values with known choices, and #PBS
// directive snippets inside job-extra-directives. A `|` in each text marks the cursor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CompletionItemTag, InsertTextFormat, type CompletionItem, type MarkupContent, type TextEdit,
} from 'vscode-languageserver-types';
import { applyTextEdits, ConfigDocument } from '../../src/core/config';
import { completion } from '../../src/server/service';

function complete(marked: string): { text: string; items: CompletionItem[] } {
  const at = marked.indexOf('|');
  assert.ok(at >= 0, 'no cursor in the text');
  const text = marked.slice(0, at) + marked.slice(at + 1);
  return { text, items: completion(text, new ConfigDocument(text).position(at)).items };
}

function item(items: CompletionItem[], label: string): CompletionItem {
  const found = items.find((i) => i.label === label);
  assert.ok(found, `no "${label}" among ${items.map((i) => i.label).join(', ')}`);
  return found;
}

const edit = (i: CompletionItem) => i.textEdit as TextEdit;
const docOf = (i: CompletionItem) => (i.documentation as MarkupContent).value;
/** The text after accepting an item, with snippet placeholders replaced by their defaults. */
function accept(text: string, i: CompletionItem): string {
  const plain = edit(i).newText.replace(/\$\{\d+(?::([^}]*)|\|([^|,]*)[^}]*\|)?\}|\$\d/g, (_m, d?: string, c?: string) => d ?? c ?? '');
  return applyTextEdits(text, [{ range: edit(i).range, newText: plain }]);
}

const GADI = 'connection:\n  host: gadi\njobqueue:\n  pbs:\n    cores: 48\n    memory: 100GB\n';

test('top-level keys in an empty file', () => {
  const { items } = complete('|');
  assert.deepEqual(items.map((i) => i.label).sort(), ['connection', 'jobqueue', 'kernel', 'scheduler', 'site']);
  assert.equal(edit(item(items, 'jobqueue')).newText, 'jobqueue:\n  $0');
});

test('a word at the top is a key being typed; after `jobqueue: ` on its line, no key can go', () => {
  const typed = complete('jo|');
  assert.equal(accept(typed.text, item(typed.items, 'jobqueue')), 'jobqueue:\n  ');
  assert.deepEqual(complete('jobqueue: |\n').items, []);
  assert.deepEqual(complete('jobqueue: pb|\n').items, []);
  assert.deepEqual(complete('jobqueue:\n  |\n').items.map((i) => i.label), ['pbs']);
});

test('in jobqueue.pbs: job-directives-skip with its documentation, and no key already present', () => {
  const { items } = complete(`${GADI}    |\n`);
  const skip = item(items, 'job-directives-skip');
  assert.match(docOf(skip), /Generated header lines containing any of these strings are left out/);
  assert.match(docOf(skip), /PBSCluster\(job_directives_skip=/);
  assert.equal(skip.detail, 'list · default []');
  assert.equal(skip.insertTextFormat, InsertTextFormat.Snippet);
  assert.equal(edit(skip).newText, 'job-directives-skip:\n      - $0');
  assert.ok(!items.some((i) => i.label === 'cores' || i.label === 'memory'), 'offers keys already present');
  assert.deepEqual(item(items, 'env-extra').tags, [CompletionItemTag.Deprecated]);
  assert.match(docOf(item(items, 'env-extra')), /Deprecated.*job-script-prologue/);
  assert.ok(item(items, 'walltime').sortText! < item(items, 'env-extra').sortText!);
});

test('keys of connection and scheduler, with defaults in the detail', () => {
  const { items } = complete('scheduler:\n  |\n');
  assert.equal(item(items, 'placement').detail, 'string · default job');
  assert.match(docOf(item(items, 'placement')), /One of `job`, `login`/);
  const conn = complete('connection:\n  host: gadi\n  |\n').items;
  assert.deepEqual(conn.map((i) => i.label).sort(), ['port', 'user']);
});

test('a key being typed is replaced, with `: ` added only when there is no colon yet', () => {
  const typed = complete(`${GADI}    que|\n`);
  const queue = item(typed.items, 'queue');
  assert.equal(edit(queue).newText, 'queue: $0');
  assert.equal(accept(typed.text, queue), `${GADI}    queue: \n`);
  assert.deepEqual(queue.command?.command, 'editor.action.triggerSuggest');
  const renamed = complete(`${GADI}    que|ue: normal\n`);
  assert.equal(edit(item(renamed.items, 'queue')).newText, 'queue');
  // The key under the cursor is not "already present".
  assert.ok(renamed.items.some((i) => i.label === 'queue'));
});

test('queue values are Gadi\'s queues, each documented with its limits', () => {
  const { text, items } = complete(`${GADI}    queue: |\n`);
  for (const q of ['normal', 'express', 'hugemem', 'gpuvolta', 'normalsr']) item(items, q);
  assert.match(docOf(item(items, 'gpuvolta')), /4 GPUs \(12 cores per GPU\)/);
  assert.match(docOf(item(items, 'normal')), /48 cores and 192 GiB per node/);
  assert.equal(accept(text, item(items, 'express')), `${GADI}    queue: express\n`);
});

test('right after a colon the value gets its blank', () => {
  const { text, items } = complete(`${GADI}    queue:|\n`);
  assert.equal(accept(text, item(items, 'normal')), `${GADI}    queue: normal\n`);
});

test('values for interface, placement and site, and whole-node sizes for the chosen queue', () => {
  assert.ok(complete(`${GADI}    interface: |\n`).items.some((i) => i.label === 'ib0'));
  assert.deepEqual(complete('scheduler:\n  placement: |\n').items.map((i) => i.label), ['job', 'login', 'persistent-session']);
  assert.ok(complete('site: |\n').items.some((i) => i.label === 'gadi'));
  const cores = complete('site: gadi\njobqueue:\n  pbs:\n    queue: normalsr\n    cores: |\n').items;
  assert.equal(item(cores, '104').detail, 'a whole normalsr node');
  const memory = complete('site: gadi\njobqueue:\n  pbs:\n    queue: hugemem\n    memory: |\n').items;
  assert.equal(item(memory, '1470GB').detail, 'a whole hugemem node');
});

test('a walltime value is quoted so that YAML 1.1 keeps it a string', () => {
  const { text, items } = complete(`${GADI}    walltime: |\n`);
  assert.equal(item(items, '00:30:00').detail, 'default');
  assert.equal(accept(text, item(items, '01:00:00')), `${GADI}    walltime: "01:00:00"\n`);
});

test('directive snippets in a new job-extra-directives item, filled from the file', () => {
  const { text, items } = complete('jobqueue:\n  pbs:\n    cores: 12\n    memory: 48GB\n    job-extra-directives:\n      - |\n');
  assert.equal(edit(item(items, '-P')).newText, '-P ${1:project}');
  assert.equal(edit(item(items, '-l storage=')).newText, '-l storage=gdata/${1:ab12}+scratch/${1:ab12}');
  assert.equal(edit(item(items, '-l jobfs=')).newText, '-l jobfs=${1:100GB}');
  assert.equal(edit(item(items, '-l ncpus=')).newText, '-l ncpus=${1:12}');
  // 48GB to dask is 48e9 bytes: PBS, counting in GiB, needs 45GB to cover it.
  assert.equal(edit(item(items, '-l mem=')).newText, '-l mem=${1:45GB}');
  assert.match(edit(item(items, '-q')).newText, /^-q \$\{1\|normal,express,/);
  assert.match(docOf(item(items, '-l jobfs=')), /Node-local SSD/);
  assert.match(docOf(item(items, '-P')), /Project whose allocation pays for the job/);
  assert.ok(!items.some((i) => i.label === '-l select=' || i.label === '-A'));
  assert.match(accept(text, item(items, '-l jobfs=')), /\n {6}- -l jobfs=100GB\n$/);
});

test('the storage snippet reuses the project of an existing -P', () => {
  const { items } = complete('jobqueue:\n  pbs:\n    job-extra-directives: ["-P xy99", "|"]\n');
  assert.equal(edit(item(items, '-l storage=')).newText, '-l storage=gdata/${1:xy99}+scratch/${1:xy99}');
});

test('inside quotes the snippet goes between them; in an empty flow list, bare', () => {
  const quoted = complete('jobqueue:\n  pbs:\n    job-extra-directives: ["-P ab12", "|"]\n');
  assert.equal(accept(quoted.text, item(quoted.items, '-l wd')), 'jobqueue:\n  pbs:\n    job-extra-directives: ["-P ab12", "-l wd"]\n');
  const flow = complete('jobqueue:\n  pbs:\n    job-extra-directives: [|]\n');
  assert.equal(accept(flow.text, item(flow.items, '-l wd')), 'jobqueue:\n  pbs:\n    job-extra-directives: [-l wd]\n');
});

test('a directive being typed is replaced from its dash; an earlier option in the same item stays', () => {
  const started = complete('jobqueue:\n  pbs:\n    job-extra-directives:\n      - -l |\n');
  assert.equal(accept(started.text, item(started.items, '-l jobfs=')), 'jobqueue:\n  pbs:\n    job-extra-directives:\n      - -l jobfs=100GB\n');
  const second = complete('jobqueue:\n  pbs:\n    job-extra-directives:\n      - -P ab12 -l st|\n');
  assert.equal(accept(second.text, item(second.items, '-l storage=')),
    'jobqueue:\n  pbs:\n    job-extra-directives:\n      - -P ab12 -l storage=gdata/ab12+scratch/ab12\n');
  const dash = complete('jobqueue:\n  pbs:\n    job-extra-directives:\n      -|\n');
  assert.equal(accept(dash.text, item(dash.items, '-l wd')), 'jobqueue:\n  pbs:\n    job-extra-directives:\n      - -l wd\n');
});

test('job-directives-skip offers select, explained', () => {
  const { items } = complete('jobqueue:\n  pbs:\n    job-directives-skip:\n      - |\n');
  assert.deepEqual(items.map((i) => i.label), ['select']);
  assert.match(docOf(items[0]), /Gadi does not accept `select`/);
});

test('nothing in comments, after a finished value, or in a file too large to parse', () => {
  assert.deepEqual(complete(`${GADI}    # the queue |\n`).items, []);
  assert.deepEqual(complete(`${GADI}    queue: normal |\n`).items, []);
  assert.deepEqual(complete(`${GADI}    job-extra-directives: ["-P ab12"]  # -|\n`).items, []);
  const big = `${'#'.repeat(1100 * 1024)}\n`;
  assert.deepEqual(completion(big, { line: 1, character: 0 }).items, []);
});

test('CRLF line ends and a BOM do not shift the replaced range', () => {
  const { text, items } = complete('\ufeffjobqueue:\r\n  pbs:\r\n    cores: 4\r\n    que|\r\n');
  assert.equal(accept(text, item(items, 'queue')), '\ufeffjobqueue:\r\n  pbs:\r\n    cores: 4\r\n    queue: \r\n');
});

test('a key already written in snake_case is not offered again in kebab-case', () => {
  const { items } = complete('jobqueue:\n  pbs:\n    cores: 1\n    death_timeout: 5\n    |\n');
  assert.ok(items.some((i) => i.label === 'memory'));
  assert.ok(!items.some((i) => i.label === 'death-timeout'));
});
