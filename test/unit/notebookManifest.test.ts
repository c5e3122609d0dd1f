// package.json's notebook parts name what src/extension/notebookIds.ts defines: the activation event for .ipynb
// notebooks, and the `notebookKernel` clauses that show Restart Kernel only for this extension's controllers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONTROLLER_PREFIX, NOTEBOOK_TYPE } from '../../src/extension/notebookIds';

const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'));
const extensionId = `${manifest.publisher}.${manifest.name}`;

test('the extension activates for the notebook type its controllers serve', () => {
  assert.ok(manifest.activationEvents.includes(`onNotebook:${NOTEBOOK_TYPE}`));
});

test("every notebookKernel clause matches this extension's controllers and no other kernel", () => {
  const clauses = Object.values(manifest.contributes.menus as Record<string, { when?: string }[]>).flat()
    .map((m) => m.when ?? '').filter((w) => w.includes('notebookKernel'));
  assert.ok(clauses.length >= 2, 'the command palette and the notebook toolbar');
  for (const when of clauses) {
    const m = /notebookKernel =~ \/(.+)\/$/.exec(when);
    assert.ok(m, when);
    const re = new RegExp(m[1]!);
    assert.ok(re.test(`${extensionId}/${CONTROLLER_PREFIX}0123456789abcdef`), when);
    assert.ok(!re.test('ms-toolsai.jupyter/jupyter-notebook-kernel'), when);
    assert.ok(!re.test(`${extensionId}/other-controller`), when);
  }
});
