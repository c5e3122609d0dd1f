// The UI layer: what a user sees after installing the packaged extension. The production .vsix goes into a fresh
// code-server through --install-extension; chromium drives the workbench with Playwright locators the way a
// user would (F1, typing, clicking the activity bar). No smoke-test driver here: it would hide the toasts.
import { cpSync, createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { REPO_ROOT, startCodeServer } from '../vscode/codeServer';
import { launchChromium, log, PeakMemory, printCounts, run, Teardown, withDeadline } from '../vscode/harness';

const RESULTS = join(REPO_ROOT, 'test-results');
const FIXTURE = join(REPO_ROOT, 'test/vscode/fixtures/workspace');
const LAYER_TIMEOUT_MS = 150_000;
const STEP_TIMEOUT_MS = 20_000;

// The slice of the DOM's Element used in the page (this project's TypeScript has no DOM library).
interface Animatable {
  getAnimations(options: { subtree: boolean }): { finished: Promise<unknown> }[];
}

interface UiTest {
  name: string;
  body: (page: Page) => Promise<void>;
}

async function visible(locator: Locator, what: string, timeout = STEP_TIMEOUT_MS): Promise<void> {
  try {
    await locator.first().waitFor({ state: 'visible', timeout });
  } catch {
    throw new Error(`not visible within ${timeout / 1000} s: ${what}`);
  }
}

async function openPalette(page: Page, text: string): Promise<Locator> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget .quick-input-box input');
  await visible(input, 'the command palette input after F1');
  await input.pressSequentially(text, { delay: 10 });
  return page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
}

/**
 * Opens the palette until a row with `label` shows. The palette lists the commands known when it opens, and the
 * installed extension's contributions register a few seconds after the workbench first paints.
 */
async function findInPalette(page: Page, label: string): Promise<Locator> {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  for (;;) {
    const row = (await openPalette(page, label)).filter({ hasText: label });
    try {
      await row.first().waitFor({ state: 'visible', timeout: 3000 });
      return row;
    } catch {
      if (Date.now() > deadline) throw new Error(`not visible within ${STEP_TIMEOUT_MS / 1000} s: a palette row "${label}"`);
      await closePalette(page);
    }
  }
}

async function closePalette(page: Page): Promise<void> {
  await page.keyboard.press('Escape');
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 5000 });
}

function uiTests(installedExtensions: string[]): UiTest[] {
  return [
    {
      name: 'the packaged .vsix is installed in code-server',
      body: async () => {
        if (!installedExtensions.some((e) => e.startsWith('gadi-dask.gadi-dask@'))) {
          throw new Error(`gadi-dask.gadi-dask is not among the installed extensions: ${installedExtensions.join(', ') || '(none)'}`);
        }
      },
    },
    {
      name: 'F1 opens the command palette and typing finds "Gadi Dask: Scale Cluster"',
      body: async (page) => {
        await findInPalette(page, 'Gadi Dask: Scale Cluster');
        await page.screenshot({ path: join(RESULTS, 'command-palette.png') });
        await closePalette(page);
      },
    },
    {
      name: 'the "Dask on Gadi" activity bar container shows the PBS Jobs view and its welcome content',
      body: async (page) => {
        const tab = page.locator('.part.activitybar').getByRole('tab', { name: /^Dask on Gadi/ });
        await visible(tab, 'the "Dask on Gadi" activity bar item');
        await tab.first().click();
        const sidebar = page.locator('.part.sidebar');
        // A container with a single view shows one merged title, "Dask On Gadi: PBS Jobs", and no pane header.
        await visible(sidebar.locator('.composite.title').filter({ hasText: /Dask on Gadi: PBS Jobs/i }), 'the side bar title "Dask on Gadi: PBS Jobs"');
        await visible(sidebar.locator('.welcome-view-content').filter({ hasText: 'No Gadi connection yet.' }), 'the PBS Jobs welcome text');
        await visible(sidebar.locator('.welcome-view-content').getByRole('button', { name: 'Scale Cluster' }), 'the welcome "Scale Cluster" button');
        await page.screenshot({ path: join(RESULTS, 'pbs-jobs-view.png') });
      },
    },
    {
      name: 'running Scale Cluster from the palette shows its notification',
      body: async (page) => {
        await findInPalette(page, 'Gadi Dask: Scale Cluster');
        await page.keyboard.press('Enter');
        const toast = page.locator('.notifications-toasts .notification-toast').filter({ hasText: 'connect to a host before scaling a cluster' });
        await visible(toast, 'the Scale Cluster notification');
        // Let the toast's fade-in finish so the screenshot shows it, not a translucent frame.
        await toast.first().evaluate((el: Animatable) => Promise.all(el.getAnimations({ subtree: true }).map((a) => a.finished)));
        await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 5000 });
        await page.screenshot({ path: join(RESULTS, 'scale-cluster-notification.png') });
      },
    },
  ];
}

async function main(): Promise<number> {
  const started = Date.now();
  const memory = new PeakMemory();
  const teardown = new Teardown();
  let passed = 0;
  let failed = 0;

  try {
    mkdirSync(RESULTS, { recursive: true });
    const packageDir = mkdtempSync(join(tmpdir(), 'gadi-dask-vsix-'));
    teardown.add(() => rmSync(packageDir, { recursive: true, force: true }));
    const vsix = join(packageDir, 'gadi-dask.vsix');
    run('node', ['scripts/build.mjs', '--production']);
    // --no-rewrite-relative-links: the README's relative links stay relative, as there is no repository URL to
    // rewrite them against (without it vsce refuses to package).
    run(join(REPO_ROOT, 'node_modules/.bin/vsce'), [
      'package', '--no-dependencies', '--no-rewrite-relative-links', '--allow-missing-repository', '--out', vsix,
    ]);
    log(`${vsix}: ${statSync(vsix).size} bytes`);

    const workspace = mkdtempSync(join(tmpdir(), 'gadi-dask-ws-'));
    teardown.add(() => rmSync(workspace, { recursive: true, force: true }));
    cpSync(FIXTURE, workspace, { recursive: true });

    const server = await startCodeServer({ installExtensions: [vsix] });
    teardown.add(() => server.stop());
    log(`code-server ${server.url} (pid ${server.pid})`);

    const browser = await launchChromium();
    teardown.add(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
    // The browser console goes to a file next to the screenshots: it explains a failure, and is noise otherwise.
    const consoleLog = createWriteStream(join(RESULTS, 'ui-console.log'));
    teardown.add(() => new Promise<void>((r) => consoleLog.end(r)));
    page.on('console', (msg) => consoleLog.write(`${msg.type()} ${msg.text().replace(/%c/g, '')}\n`));
    page.on('pageerror', (err) => consoleLog.write(`pageerror ${err.stack ?? err.message}\n`));

    await withDeadline(
      (async () => {
        await page.goto(`${server.url}/?folder=${encodeURIComponent(workspace)}`);
        await visible(page.locator('.monaco-workbench .part.activitybar'), 'the workbench', 60_000);
        for (const t of uiTests(server.installedExtensions)) {
          const t0 = Date.now();
          try {
            await t.body(page);
            passed++;
            process.stdout.write(`ok - ${t.name} (${Date.now() - t0} ms)\n`);
          } catch (err) {
            failed++;
            const shot = join(RESULTS, `failure-${passed + failed}.png`);
            await page.screenshot({ path: shot }).catch(() => undefined);
            process.stdout.write(`not ok - ${t.name}\n  ${err instanceof Error ? err.message : String(err)}\n  screenshot: ${shot}\n`);
            await page.keyboard.press('Escape').catch(() => undefined);
          }
        }
      })(),
      LAYER_TIMEOUT_MS,
      'the UI tests',
    );
  } catch (err) {
    failed++;
    log(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  } finally {
    await teardown.run();
  }

  if (passed + failed === 0) failed = 1;
  log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s, peak memory ${memory.stop()} MiB (PSS, runner + children)`);
  printCounts(passed, failed);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    printCounts(0, 1);
    process.exit(1);
  },
);
