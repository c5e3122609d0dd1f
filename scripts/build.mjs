// Bundles the three entry points with esbuild so that the .vsix runs without node_modules.
import * as esbuild from 'esbuild';
import { mkdirSync, writeFileSync } from 'node:fs';

const production = process.argv.includes('--production');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
  // ssh2's optional native parts: it falls back to pure JS when they are absent.
  external: ['vscode', 'cpu-features', './crypto/build/Release/sshcrypto.node'],
};

await Promise.all([
  esbuild.build({ ...common, entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js' }),
  esbuild.build({ ...common, entryPoints: ['src/server/server.ts'], outfile: 'dist/server.js' }),
  esbuild.build({
    ...common,
    entryPoints: ['src/cli/cli.ts'],
    outfile: 'dist/cli.js',
    banner: { js: '#!/usr/bin/env node' },
  }),
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
