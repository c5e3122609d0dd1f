import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

// The CLI and plain-Node tests load the core without VS Code; one stray import would break them.
test('src/core imports nothing from vscode nor from the front ends', () => {
  const files = sources(join(root, 'src', 'core'));
  assert.ok(files.length > 0);
  const offenders = files.filter((f) =>
    /(from\s+|require\()\s*['"](vscode|vscode-languageclient[^'"]*|vscode-languageserver\/node|(\.\.\/)+(extension|server|cli)\/[^'"]*)['"]/.test(readFileSync(f, 'utf8')),
  );
  assert.deepEqual(offenders, []);
});
