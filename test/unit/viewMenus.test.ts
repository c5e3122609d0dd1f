// The PBS Jobs view's menus (package.json) against the context values the tree gives (contextValues.ts): every
// item menu entry matches some node, every node with an action in the tree is reached by one, and each names a command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { allContextValues } from '../../src/extension/contextValues';

interface MenuItem { command: string; when?: string }
const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
  contributes: { commands: { command: string }[]; menus: Record<string, MenuItem[]> };
};
const values = allContextValues();

/** The viewItem condition of a when clause, as a predicate (`viewItem == x` or `viewItem =~ /re/`). */
function viewItemTest(when: string): ((v: string) => boolean) | undefined {
  const eq = /viewItem == ([\w.-]+)/.exec(when);
  if (eq) return (v) => v === eq[1];
  const re = /viewItem =~ \/((?:\\\/|[^/])+)\//.exec(when);
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
  assert.ok(actions('cluster.running.dashboard').includes('gadiDask.openDashboard'));
  assert.ok(!actions('cluster.stopped').includes('gadiDask.openDashboard'));
  assert.ok(actions('otherJobs').includes('gadiDask.refresh'));
});
