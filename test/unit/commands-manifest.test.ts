// Command ids and titles are contributed in package.json (the extension reads its titles from there); the
// extension's command table has a handler for exactly those ids, and the language server's code action runs one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_FROM_CALL_COMMAND } from '../../src/server/service';

const ROOT = join(__dirname, '..', '..');

test('package.json contributes exactly the commands the extension has handlers for', () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { contributes: { commands: { command: string; title: string }[] } };
  const contributed = manifest.contributes.commands.map((c) => c.command).sort();
  const source = readFileSync(join(ROOT, 'src', 'extension', 'commands', 'index.ts'), 'utf8');
  const registered = [...source.matchAll(/^ {2}'(gadiDask\.\w+)':/gm)].map((m) => m[1]).sort();
  assert.ok(registered.length >= 20, `found only ${registered.length} handlers`);
  assert.deepEqual(registered, contributed);
  assert.ok(contributed.includes(CONFIG_FROM_CALL_COMMAND));
});
