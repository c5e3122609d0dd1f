// Bundles the entry points (scripts/bundles.mjs, and the webview's script) with esbuild so that the .vsix runs
// without node_modules.
import * as esbuild from 'esbuild';
import { mkdirSync, writeFileSync } from 'node:fs';
import { nodeBundles } from './bundles.mjs';

const production = process.argv.includes('--production');

await Promise.all([
  ...nodeBundles(production).map((b) => esbuild.build(b.options)),
  // The Cluster Report's webview script: for the browser, with its chart library, so nothing loads from the network.
  esbuild.build({
    entryPoints: ['src/webview/report.ts'], outfile: 'dist/report.js', bundle: true, platform: 'browser', format: 'iife',
    target: 'es2022', sourcemap: false, minify: production, logLevel: 'warning',
  }),
]);

// JSON Schema for other editors, generated from the zod schema (bundled in memory, then imported).
const generator = await esbuild.build({
  entryPoints: ['src/core/config/jsonSchema.ts'], bundle: true, write: false, format: 'esm', platform: 'node', logLevel: 'warning',
});
const { clusterConfigJsonSchema } = await import(`data:text/javascript;base64,${Buffer.from(generator.outputFiles[0].text).toString('base64')}`);
mkdirSync('schemas', { recursive: true });
writeFileSync('schemas/dask-cluster.schema.json', `${JSON.stringify(clusterConfigJsonSchema(), null, 2)}\n`);
