// @vscode/test-cli configuration (`npx vscode-test`, after `npm i -D @vscode/test-cli`): the extension-host suite
// in desktop VS Code, downloaded by @vscode/test-electron. Build first:
//   node scripts/build.mjs && node test/vscode/build.mjs
// test-cli brings its own mocha runner and loads the compiled *.test.js files; test/vscode/electron.ts runs the
// same files through their own runner (out/test/vscode/suite/index.js) with runTests, and test/vscode/run.ts
// runs them in code-server where desktop VS Code cannot be downloaded.
// A plain object rather than defineConfig(), so that this file loads without @vscode/test-cli installed.
export default {
  tests: [
    {
      label: 'extension-host',
      files: 'out/test/vscode/suite/**/*.test.js',
      version: 'stable',
      workspaceFolder: './test/vscode/fixtures/workspace',
      launchArgs: ['--disable-extensions', '--disable-workspace-trust'],
      mocha: { ui: 'tdd', timeout: 20000, color: true },
    },
  ],
};
