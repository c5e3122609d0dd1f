// Bundles the extension-host test suite into out/test/vscode/suite/: index.js (the mocha runner that
// `extensionTestsPath` points at) and one *.test.js per test file. `vscode` comes from the extension host
// (and the modules under test take the core from their own bundle, not from dist/core.js);
// mocha stays external and resolves from node_modules, so the runner and the test files share one instance.
import * as esbuild from 'esbuild';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_EXTERNALS } from '../../scripts/bundles.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const suiteDir = join(here, 'suite');
const tests = readdirSync(suiteDir).filter((f) => f.endsWith('.test.ts'));

await esbuild.build({
  entryPoints: [join(suiteDir, 'index.ts'), ...tests.map((f) => join(suiteDir, f))],
  outdir: join(root, 'out/test/vscode/suite'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'inline',
  logLevel: 'warning',
  external: [...NODE_EXTERNALS, 'mocha'],
});
