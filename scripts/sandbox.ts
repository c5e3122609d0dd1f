// `npm run sandbox`: a whole Gadi-like cluster on this machine (a private sshd with its own user, the PBS Pro
// emulator on that user's login PATH, Debian's Dask) and a code-server with the packaged extension installed.
// Prints the URL to open and keeps everything up until Ctrl-C, then tears it all down.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandbox } from '../test/sandbox/sandbox';
import { REPO_ROOT, startCodeServer } from '../test/vscode/codeServer';
import { sandboxSettings, writeSandboxConfig } from '../test/vscode/sandboxSettings';

function step(what: string): void {
  process.stderr.write(`[sandbox] ${what}\n`);
}

async function main(): Promise<void> {
  step('building and packaging the extension');
  execFileSync('node', ['scripts/build.mjs', '--production'], { cwd: REPO_ROOT, stdio: 'inherit' });
  const vsix = join(REPO_ROOT, 'dist', 'gadi-dask.vsix');
  execFileSync(join(REPO_ROOT, 'node_modules/.bin/vsce'), ['package', '--no-dependencies', '--out', vsix], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });

  step('starting the sandbox cluster (sshd, PBS emulator, Dask)');
  const sandbox = await startSandbox();
  const workspace = mkdtempSync(join(tmpdir(), 'gadi-dask-sandbox-ws-'));
  mkdirSync(join(workspace, '.vscode'));
  const configPath = writeSandboxConfig(workspace, sandbox);

  step('starting code-server with the extension installed');
  // The extension reaches the sandbox through its ssh config and known_hosts: machine-scoped settings, which a
  // code-server window reads from the server's machine settings.
  const server = await startCodeServer({ installExtensions: [vsix], machineSettings: sandboxSettings(sandbox) });

  const stop = async () => {
    step('stopping');
    await server.stop();
    await sandbox.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());

  process.stdout.write(
    [
      '',
      `Open ${server.url}/?folder=${encodeURIComponent(workspace)}`,
      '',
      `SSH host alias : ${sandbox.alias} (ssh -F ${sandbox.sshConfigPath} ${sandbox.alias})`,
      `Cluster user   : ${sandbox.user} on 127.0.0.1:${sandbox.port}, host key ${sandbox.hostKeyFingerprintSha256}`,
      `Workspace      : ${workspace}`,
      `Cluster config : ${configPath} (run "Gadi Dask: Scale Cluster" from the command palette)`,
      'Press Ctrl-C to stop everything.',
      '',
    ].join('\n'),
  );
  await new Promise(() => undefined);
}

main().catch((err: unknown) => {
  process.stderr.write(`[sandbox] failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
