// The extension host's two bundles (scripts/bundles.mjs): activation loads dist/extension.js only, and the core
// (ssh2, zod, yaml) comes from dist/core.js on first use. Built here with the production options, in memory.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import * as esbuild from 'esbuild';

const ROOT = resolve(__dirname, '..', '..');
const HEAVY = ['zod', 'ssh2', 'yaml', 'ssh-config'];

async function inputsOf(name: string): Promise<{ inputs: string[]; text: string }> {
  // The build's own module (ESM: plain node runs it), so the test bundles exactly what ships.
  const { nodeBundles } = await import('../../scripts/bundles.mjs');
  const bundle = nodeBundles(true, join(ROOT, 'dist')).find((b) => b.name === name);
  assert.ok(bundle, `no bundle named ${name}`);
  const r = await esbuild.build({ ...bundle.options, absWorkingDir: ROOT, metafile: true, write: false, logLevel: 'silent' });
  const js = r.outputFiles.find((f) => f.path.endsWith('.js'));
  assert.ok(js);
  const used = Object.entries(Object.values(r.metafile.outputs).find((o) => o.entryPoint)?.inputs ?? {});
  return { inputs: used.filter(([, v]) => v.bytesInOutput > 0).map(([k]) => k), text: js.text };
}

const packageOf = (input: string) => input.split('node_modules/').pop()!.split('/')[0];

test('activation loads no ssh2, zod or yaml: the extension bundle requires them from ./core.js', async () => {
  const ext = await inputsOf('extension');
  const heavy = ext.inputs.filter((i) => i.includes('node_modules/') && HEAVY.includes(packageOf(i)));
  assert.deepEqual(heavy, [], 'a module the extension imports directly drags these in: take the value from core() instead');
  assert.ok(ext.inputs.includes('src/extension/core.ts'));
  assert.ok(!ext.inputs.includes('src/extension/coreBundle.ts'), 'coreBundle.ts is inlined instead of loaded lazily');
  assert.match(ext.text, /require\("\.\/core\.js"\)/);
});

test('no module that declares a class is in both bundles, so instanceof sees one class', async () => {
  const [ext, core] = await Promise.all([inputsOf('extension'), inputsOf('core')]);
  const inCore = new Set(core.inputs);
  const both = ext.inputs.filter((i) => inCore.has(i) && !i.includes('node_modules/') && i.endsWith('.ts'));
  const withClass = both.filter((i) => /^\s*(export\s+)?(abstract\s+)?class\s/m.test(readFileSync(join(ROOT, i), 'utf8')));
  assert.deepEqual(withClass, []);
  assert.ok(HEAVY.every((p) => core.inputs.some((i) => i.includes(`node_modules/${p}/`))), 'the core bundle holds the heavy libraries');
});
