// Runs the extension-host suite under @vscode/test-electron: desktop VS Code, downloaded on first use, so this
// needs a machine with a display (or xvfb) and internet access. On an offline machine use test/vscode/run.ts,
// which runs the same suite in code-server. `npx vscode-test` with @vscode/test-cli reads .vscode-test.mjs instead.
//   node --import tsx test/vscode/electron.ts        (VSCODE_VERSION=1.100.0 pins the VS Code version)
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTests } from '@vscode/test-electron';
import { REPO_ROOT } from './codeServer';
import { run } from './harness';

async function main(): Promise<number> {
  run('node', ['scripts/build.mjs']);
  run('node', ['test/vscode/build.mjs']);
  const workspace = mkdtempSync(join(tmpdir(), 'gadi-dask-ws-'));
  try {
    cpSync(join(REPO_ROOT, 'test/vscode/fixtures/workspace'), workspace, { recursive: true });
    return await runTests({
      version: process.env.VSCODE_VERSION ?? 'stable',
      extensionDevelopmentPath: REPO_ROOT,
      extensionTestsPath: join(REPO_ROOT, 'out/test/vscode/suite/index.js'),
      // Other installed extensions stay off so that only this one contributes to the run.
      launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust'],
    });
  } finally {
    rmSync(workspace, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
