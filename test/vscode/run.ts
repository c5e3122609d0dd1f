// The extension-host layer: the mocha suite in test/vscode/suite runs inside a real VS Code 1.139 extension host
// (code-server), with the extension loaded from this repository as a development extension. Chromium opens the
// workbench with the test payload; the workbench reports the suite's exit code through `codeAutomationExit`.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConsoleMessage } from 'playwright-core';
import { startSandbox } from '../sandbox/sandbox';
import { REPO_ROOT, startCodeServer } from './codeServer';
import { finishLayer, launchChromium, log, PeakMemory, run, runLayer, Teardown, withDeadline } from './harness';
import { sandboxSettings, writeSandboxConfig } from './sandboxSettings';
import { parseResult, type SuiteResult } from './suite/result';

const SUITE_INDEX = join(REPO_ROOT, 'out/test/vscode/suite/index.js');
const FIXTURE = join(REPO_ROOT, 'test/vscode/fixtures/workspace');
// Scale Cluster now waits for its workers, and the machine running the suite may be loaded.
const SUITE_TIMEOUT_MS = 300_000;
// Its own sandbox user, so this layer never waits for another layer's sandbox.
const SANDBOX_USER = 'gdvscode';

// VS Code's web console lines are `console.log('%c LEVEL', css, format, ...values)`, and the extension host's
// output (mocha's spec reporter) arrives the same way: apply the printf-style directives, drop the CSS.
async function plainText(msg: ConsoleMessage): Promise<string> {
  const args = await Promise.all(
    msg.args().map((arg) =>
      arg
        .evaluate((v: unknown) => {
          if (v instanceof Error) return String(v.stack ?? v);
          if (typeof v === 'string') return v;
          try {
            return JSON.stringify(v);
          } catch {
            return String(v);
          }
        })
        .catch(() => String(arg)),
    ),
  );
  if (!args.length) return msg.text();
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const format = args[i] ?? '';
    out.push(
      format.replace(/%[sdifoOjc]/g, (directive) => {
        const value = i + 1 < args.length ? (args[++i] ?? '') : '';
        return directive === '%c' ? '' : value;
      }),
    );
  }
  return out.join(' ').trimEnd();
}

async function main(): Promise<number> {
  const started = Date.now();
  const memory = new PeakMemory();
  const teardown = new Teardown();
  let result: SuiteResult | undefined;
  let exitCode: number | undefined;
  let error: unknown;

  try {
    run('node', ['scripts/build.mjs']);
    run('node', ['test/vscode/build.mjs']);

    const workspace = mkdtempSync(join(tmpdir(), 'gadi-dask-ws-'));
    teardown.add(() => rmSync(workspace, { recursive: true, force: true }));
    cpSync(FIXTURE, workspace, { recursive: true });

    // The cluster suite runs a real cluster life on the sandbox: the extension reaches it through the sandbox's
    // ssh config and known_hosts (machine-scoped settings) and the workspace's sandbox.dask-cluster.yaml.
    const sandbox = await startSandbox({ user: SANDBOX_USER });
    teardown.add(() => sandbox.stop());
    writeSandboxConfig(workspace, sandbox);
    log(`sandbox ${sandbox.alias} (${sandbox.user}@127.0.0.1:${sandbox.port})`);

    const server = await startCodeServer({ smokeTestDriver: true, machineSettings: sandboxSettings(sandbox) });
    teardown.add(() => server.stop());
    log(`code-server ${server.url} (pid ${server.pid})`);

    const browser = await launchChromium();
    teardown.add(() => browser.close());
    const page = await browser.newPage();
    // Chained so that lines keep their order although reading the arguments is asynchronous.
    let relay = Promise.resolve();
    page.on('console', (msg) => {
      relay = relay.then(async () => {
        const text = await plainText(msg);
        result = parseResult(text) ?? result;
        // Indented, so nothing relayed can look like the runner's own `# pass` line.
        for (const line of text.split('\n')) process.stdout.write(`  | ${line}\n`);
      });
    });
    page.on('pageerror', (err) => process.stdout.write(`  | page error: ${err.message}\n`));

    const exited = new Promise<number>((resolve) => {
      void page.exposeFunction('codeAutomationExit', (code: number) => resolve(Number(code)));
    });
    const remote = (path: string): string => `vscode-remote://127.0.0.1:${server.port}${path}`;
    const payload = [
      ['extensionDevelopmentPath', remote(REPO_ROOT)],
      ['extensionTestsPath', remote(SUITE_INDEX)],
    ];
    await page.goto(`${server.url}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`);
    exitCode = await withDeadline(exited, SUITE_TIMEOUT_MS, 'the extension-host suite');
    log(`workbench exit code ${exitCode}`);
    // The result line may still be in the relay queue; it is never long.
    await withDeadline(relay, 5000, 'the console relay').catch(() => undefined);
    if (exitCode !== 0 || !result) {
      log(`code-server log:\n${server.logTail()}`);
      log(`the extension's log:\n${server.channelLog('Dask on Gadi')}`);
    }
  } catch (err) {
    error = err;
    log(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  } finally {
    await teardown.run();
  }

  const passed = result?.passed ?? 0;
  let failed = result?.failed ?? 0;
  if (!result) log('the suite printed no result line');
  // A crash, a hang, a non-zero exit without a counted failure, or an empty run each count as one failure.
  if ((error !== undefined || exitCode !== 0 || passed === 0) && failed === 0) failed = 1;
  return finishLayer(started, memory, passed, failed);
}

runLayer(main);
