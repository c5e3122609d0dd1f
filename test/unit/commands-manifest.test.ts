// Command ids and titles are contributed in package.json; the extension registers the same ones with the same
// titles (its error messages name them), and the language server's code action runs one of them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_FROM_CALL_COMMAND } from '../../src/server/service';

const ROOT = join(__dirname, '..', '..');

test('package.json contributes exactly the commands the extension registers, under the same titles', () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { contributes: { commands: { command: string; title: string }[] } };
  const contributed = new Map(manifest.contributes.commands.map((c) => [c.command, c.title]));
  const source = readFileSync(join(ROOT, 'src', 'extension', 'commands', 'index.ts'), 'utf8');
  const registered = new Map([...source.matchAll(/^ {2}'(gadiDask\.\w+)': \['([^']+)'/gm)].map((m) => [m[1], m[2]]));
  assert.ok(registered.size >= 20, `found only ${registered.size} registrations`);
  assert.deepEqual(new Map([...registered].sort()), new Map([...contributed].sort()));
  assert.ok(contributed.has(CONFIG_FROM_CALL_COMMAND));
});
