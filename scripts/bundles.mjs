// The bundles the .vsix ships, as esbuild options: scripts/build.mjs builds them, the size benchmark and the bundle
// test build the same ones elsewhere.

// The extension host takes the core from a second bundle, loaded on first use (src/extension/core.ts).
const LAZY_CORE = { specifier: './coreBundle', file: './core.js' };

const lazyCore = {
  name: 'lazy-core',
  setup(build) {
    build.onResolve({ filter: /^\.\/coreBundle$/ }, (args) =>
      args.importer.endsWith('/src/extension/core.ts') ? { path: LAZY_CORE.file, external: true } : undefined);
  },
};

/** What no node bundle contains: VS Code's API, and ssh2's optional native parts (it falls back to pure JS without them). */
export const NODE_EXTERNALS = ['vscode', 'cpu-features', './crypto/build/Release/sshcrypto.node'];

/** The `gadi-dask` command's bundles: a small launcher, and the bundle it loads through V8's code cache. */
export const CLI_BUNDLES = ['cli', 'cliMain'];

/** The node bundles: name (dist/<name>.js) and esbuild options for `production` (minified) or not. */
export function nodeBundles(production, outdir = 'dist') {
  const common = {
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: !production,
    minify: production,
    logLevel: 'warning',
    external: NODE_EXTERNALS,
  };
  const entries = [
    ['extension', 'src/extension/extension.ts', { plugins: [lazyCore] }],
    ['core', 'src/extension/coreBundle.ts', {}],
    ['server', 'src/server/server.ts', {}],
    [CLI_BUNDLES[0], 'src/cli/launch.ts', { banner: { js: '#!/usr/bin/env node' } }], // src/cli/launch.ts says why
    [CLI_BUNDLES[1], 'src/cli/cli.ts', {}],
  ];
  return entries.map(([name, entry, extra]) => ({ name, options: { ...common, ...extra, entryPoints: [entry], outfile: `${outdir}/${name}.js` } }));
}
