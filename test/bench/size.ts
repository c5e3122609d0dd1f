// Bundle sizes against the goal (dist/extension.js < 1 MB minified): the production bundles (scripts/bundles.mjs)
// built into a temporary directory, the largest inputs of the extension's bundle (what to load lazily next), and the
// VSIX when one is built.
// Activation time is printed by the code-server suite (test/vscode/suite/extension.test.ts).
// Run: node --import tsx test/bench/size.ts
import * as esbuild from 'esbuild';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');
const GOAL = 1_000_000;
const kb = (n: number) => `${(n / 1000).toFixed(0)} kB`;

async function main(): Promise<void> {
  const { CLI_BUNDLES, nodeBundles } = await import('../../scripts/bundles.mjs');
  const out = mkdtempSync(join(tmpdir(), 'gadi-dask-size-'));
  try {
    const sizes: Record<string, number> = {};
    let inputs: Record<string, number> = {};
    for (const { name, options } of nodeBundles(true, out)) {
      if (CLI_BUNDLES.includes(name)) continue;
      const r = await esbuild.build({ ...options, absWorkingDir: ROOT, metafile: true });
      sizes[name] = statSync(join(out, `${name}.js`)).size;
      if (name === 'extension') {
        inputs = {};
        for (const [path, { bytesInOutput }] of Object.entries(Object.values(r.metafile.outputs)[0].inputs)) {
          const parts = path.split('/');
          const key = parts[0] === 'node_modules' ? parts.slice(0, parts[1].startsWith('@') ? 3 : 2).join('/') : parts.slice(0, 3).join('/');
          inputs[key] = (inputs[key] ?? 0) + bytesInOutput;
        }
      }
    }
    console.log(`dist/extension.js ${kb(sizes.extension)} (goal < ${kb(GOAL)}: ratio ${(sizes.extension / GOAL).toFixed(2)})`);
    console.log(`dist/core.js      ${kb(sizes.core)} (loaded on first use, not at activation)`);
    console.log(`dist/server.js    ${kb(sizes.server)}`);
    console.log('largest parts of the extension bundle:');
    for (const [k, v] of Object.entries(inputs).sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log(`  ${k.padEnd(44)} ${kb(v)}`);
    const vsix = join(ROOT, 'dist', 'gadi-dask.vsix');
    console.log(existsSync(vsix) ? `VSIX ${kb(statSync(vsix).size)} (dist/gadi-dask.vsix)` : 'VSIX not built (npm run package builds dist/gadi-dask.vsix)');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

void main();
