// The PBS Jobs view's menus (package.json) against the context values the tree gives (contextValues.ts): every
// item menu entry matches some node, every node with an action in the tree is reached by one, and each names a command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { allContextValues, SELECTION_CONTEXT_KEY } from '../../src/extension/contextValues';

interface MenuItem { command: string; when?: string; group?: string }
interface Keybinding { command: string; key: string; mac?: string; when: string; args?: { selection?: boolean } }
const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
  contributes: { commands: { command: string }[]; menus: Record<string, MenuItem[]>; keybindings: Keybinding[] };
};
const values = allContextValues();

/** The `key` condition of a when clause, as a predicate (`key == x` or `key =~ /re/`). */
function viewItemTest(when: string, key = 'viewItem'): ((v: string) => boolean) | undefined {
  const k = key.replace(/\./g, '\\.');
  const eq = new RegExp(`${k} == ([\\w.-]+)`).exec(when);
  if (eq) return (v) => v === eq[1];
  const re = new RegExp(`${k} =~ \\/((?:\\\\\\/|[^/])+)\\/`).exec(when);
  if (re) {
    const r = new RegExp(re[1]);
    return (v) => r.test(v);
  }
  return undefined;
}

test('every item menu entry of the view matches a context value the tree gives, and names a command', () => {
  const commands = new Set(manifest.contributes.commands.map((c) => c.command));
  const items = manifest.contributes.menus['view/item/context'];
  assert.ok(items.length > 0);
  for (const item of items) {
    assert.ok(commands.has(item.command), `${item.command} is not a command`);
    const match = viewItemTest(item.when ?? '');
    assert.ok(match, `${item.command}: no viewItem condition in "${item.when}"`);
    assert.ok(values.some(match), `${item.command} (${item.when}) matches no node of the tree`);
  }
});

test('jobs, clusters and the other-jobs node each have their actions', () => {
  const items = manifest.contributes.menus['view/item/context'];
  const actions = (value: string) => items.filter((i) => viewItemTest(i.when ?? '')?.(value)).map((i) => i.command);
  assert.ok(actions('job.worker.running').includes('gadiDask.cancelJob'));
  assert.ok(actions('job.other.pending').includes('gadiDask.cancelJob'));
  assert.ok(!actions('job.worker.finished').includes('gadiDask.cancelJob'), 'a finished job cannot be cancelled');
  for (const phase of ['pending', 'running']) {
    assert.ok(actions(`job.kernel.${phase}`).includes('gadiDask.cancelJob'), `the kernel's ${phase} job can be cancelled`);
  }
  assert.ok(actions('job.kernel.running').includes('gadiDask.showJobScript'));
  assert.ok(actions('job.kernel.finished').includes('gadiDask.openJobOutput'));
  assert.ok(actions('cluster.running.dashboard').includes('gadiDask.openDashboard'));
  assert.ok(!actions('cluster.stopped').includes('gadiDask.openDashboard'));
  assert.ok(actions('otherJobs').includes('gadiDask.refresh'));
});

const itemMenus = manifest.contributes.menus['view/item/context'];
const menuOffers = (command: string, value: string, inline: boolean) =>
  itemMenus.some((i) => i.command === command && i.group?.startsWith('inline') === inline && viewItemTest(i.when ?? '')?.(value));

test('every inline action of a node is in its context menu too, so Shift+F10 reaches it from the keyboard', () => {
  for (const value of values) {
    for (const item of itemMenus.filter((i) => i.group?.startsWith('inline') && viewItemTest(i.when ?? '')?.(value))) {
      if (item.command === 'gadiDask.refresh') continue; // also the view's title action and a palette command
      assert.ok(menuOffers(item.command, value, false), `${item.command} is only an inline button on ${value}`);
    }
  }
});

test('the view\'s keybindings act on the selection, only on nodes whose menu offers the same command, one command per key', () => {
  const bindings = manifest.contributes.keybindings.filter((k) => k.when.includes('focusedView == gadiDask.jobs'));
  assert.ok(bindings.length >= 4);
  const taken = new Map<string, string>();
  for (const b of bindings) {
    assert.equal(b.args?.selection, true, `${b.command} on ${b.key}: a keybinding gets no node, so it must ask for the selection`);
    const match = viewItemTest(b.when, SELECTION_CONTEXT_KEY);
    assert.ok(match, `${b.command} on ${b.key}: no ${SELECTION_CONTEXT_KEY} condition in "${b.when}"`);
    const reached = values.filter(match);
    assert.ok(reached.length > 0, `${b.command} on ${b.key} matches no node`);
    for (const value of reached) {
      assert.ok(menuOffers(b.command, value, false), `${b.command} on ${b.key} reaches ${value}, whose menu does not offer it`);
      for (const key of [b.key, b.mac]) {
        const before = taken.get(`${key}|${value}`);
        assert.ok(!before || before === b.command, `${key} on ${value} means both ${before} and ${b.command}`);
        taken.set(`${key}|${value}`, b.command);
      }
    }
  }
  // The ones a user reaches for first.
  const on = (key: string, value: string) => taken.get(`${key}|${value}`);
  assert.equal(on('delete', 'job.worker.running'), 'gadiDask.cancelJob');
  assert.equal(on('delete', 'job.worker.finished'), undefined);
  assert.equal(on('delete', 'cluster.running.dashboard'), 'gadiDask.shutDownCluster');
  assert.equal(on('ctrl+enter', 'job.other.running'), 'gadiDask.openJobOutput');
});
