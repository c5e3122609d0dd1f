// The UI layer: what a user sees after installing the packaged extension. The production .vsix goes into a fresh
// code-server through --install-extension; chromium drives the workbench with Playwright locators the way a
// user would (F1, typing, clicking the activity bar). No smoke-test driver here: it would hide the toasts.
import { execFile } from 'node:child_process';
import { cpSync, createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ConsoleMessage, Frame, Locator, Page, Request } from 'playwright-core';
import { replayJournal } from '../fixtures/journal';
import { until } from '../fixtures/poll';
import { startSandbox, type Sandbox } from '../sandbox/sandbox';
import { REPO_ROOT, startCodeServer } from '../vscode/codeServer';
import { finishLayer, launchChromium, log, PeakMemory, run, runLayer, Teardown, withDeadline } from '../vscode/harness';
import { SANDBOX_CONFIG_FILE, sandboxSettings, writeSandboxConfig } from '../vscode/sandboxSettings';

const RESULTS = join(REPO_ROOT, 'test-results');
const FIXTURE = join(REPO_ROOT, 'test/vscode/fixtures/workspace');
const LAYER_TIMEOUT_MS = 300_000;
const SANDBOX_USER = 'gdui';
const STEP_TIMEOUT_MS = 20_000;

// The slice of the DOM's Element used in the page (this project's TypeScript has no DOM library).
interface Animatable {
  getAnimations(options: { subtree: boolean }): { finished: Promise<unknown> }[];
}

// The slice of the page's globals that watchToasts() uses.
interface ToastGlobals {
  document: { body: unknown; querySelectorAll(selector: string): Iterable<{ textContent: string | null }> };
  MutationObserver: new (callback: () => void) => { observe(target: unknown, options: Record<string, boolean>): void };
  gadiDaskToasts?: string[];
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
        for (const name of ['Connect', 'Create Cluster Config', 'Open Walkthrough']) {
          await visible(sidebar.locator('.welcome-view-content').getByRole('button', { name }), `the welcome "${name}" button`);
        }
        await page.screenshot({ path: join(RESULTS, 'pbs-jobs-view.png') });
      },
    },
    {
      name: 'running Open Dashboard from the palette before connecting says so, with a Connect button',
      body: async (page) => {
        await findInPalette(page, 'Gadi Dask: Open Dashboard');
        await page.keyboard.press('Enter');
        const toast = toasts(page).filter({ hasText: 'Not connected to a cluster' });
        await visible(toast, 'the "not connected" notification');
        await visible(toast.getByRole('button', { name: 'Connect' }), 'its Connect button');
        // Let the toast's fade-in finish so the screenshot shows it, not a translucent frame.
        await toast.first().evaluate((el: Animatable) => Promise.all(el.getAnimations({ subtree: true }).map((a) => a.finished)));
        await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 5000 });
        await page.screenshot({ path: join(RESULTS, 'not-connected-notification.png') });
        await page.keyboard.press('Escape'); // hides the toast, which would cover later screenshots
      },
    },
    {
      name: 'a config with an error shows a red squiggle, its hover and its entry in the Problems panel',
      body: async (page) => {
        // Open the file the way a user would: Quick Open, type its name, Enter.
        await page.keyboard.press('Control+P');
        const input = page.locator('.quick-input-widget .quick-input-box input');
        await visible(input, 'the Quick Open input after Ctrl+P');
        await input.pressSequentially('account.dask-cluster.yaml', { delay: 10 });
        await visible(page.locator('.quick-input-widget .quick-input-list .monaco-list-row').filter({ hasText: 'account.dask-cluster.yaml' }),
          'account.dask-cluster.yaml in Quick Open');
        await page.keyboard.press('Enter');
        await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 5000 });
        const editor = page.locator('.part.editor .monaco-editor').filter({ hasText: 'account: ab12' });
        await visible(editor, 'the editor showing account.dask-cluster.yaml');
        // The language server starts with the first config file opened: allow for that.
        const squiggle = editor.locator('.squiggly-error');
        await visible(squiggle, 'a red squiggle in the editor', 45_000);

        await page.keyboard.press('Control+Shift+M');
        const message = 'Gadi takes the project as -P';
        const problem = page.locator('.markers-panel .monaco-list-row').filter({ hasText: message });
        await visible(problem, 'the error in the Problems panel');
        const problemText = await problem.first().innerText();
        if (!problemText.includes('gadi/account-directive')) throw new Error(`the Problems entry lacks its code: ${problemText}`);

        // Hovering the squiggle shows the message and the rule's code.
        const box = await squiggle.first().boundingBox();
        if (!box) throw new Error('the squiggle has no box on screen');
        await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
        const hover = page.locator('.monaco-hover').filter({ hasText: message });
        await visible(hover, 'the hover over the squiggle');
        await hover.first().evaluate((el: Animatable) => Promise.all(el.getAnimations({ subtree: true }).map((a) => a.finished)));
        await page.screenshot({ path: join(RESULTS, 'lint-squiggle.png') });
        // Leave the workbench as the next test expects it: no hover, no panel, no editor.
        await page.mouse.move(0, 0);
        await page.keyboard.press('Control+J');
        await page.locator('.part.panel').waitFor({ state: 'hidden', timeout: 5000 });
        await (await findInPalette(page, 'View: Close All Editors')).first().click();
        await editor.waitFor({ state: 'detached', timeout: 5000 });
      },
    },
  ];
}

/** A row of the PBS Jobs view (label and description are its text). */
function treeRows(page: Page, text: string | RegExp): Locator {
  return page.locator('.part.sidebar .monaco-list-row').filter({ hasText: text });
}

/** Room for the tree's descriptions in screenshots: the side bar dragged wider, the panel hidden. */
async function makeRoom(page: Page): Promise<void> {
  if (await page.locator('.part.panel').isVisible()) await page.keyboard.press('Control+J');
  const box = await page.locator('.part.sidebar').boundingBox();
  if (!box || box.width >= 520) return;
  const x = box.x + box.width + 2;
  const y = box.y + box.height / 2;
  await page.mouse.move(x, y);
  await page.mouse.down();
  await page.mouse.move(x + 100, y, { steps: 5 });
  await page.mouse.move(box.x + 560, y, { steps: 5 });
  await page.mouse.up();
}

async function settle(locator: Locator): Promise<void> {
  await locator.first().evaluate((el: Animatable) => Promise.all(el.getAnimations({ subtree: true }).map((a) => a.finished)));
}

function toasts(page: Page): Locator {
  return page.locator('.notifications-toasts .notification-toast');
}

/**
 * Keeps every text a notification toast shows, from now on. A progress notification closes as soon as its task
 * ends, so its last message ("2/2 workers connected") may be on screen for less than a locator's polling interval.
 */
async function watchToasts(page: Page): Promise<void> {
  await page.evaluate(() => {
    const g = globalThis as unknown as ToastGlobals;
    if (g.gadiDaskToasts) return;
    const seen: string[] = (g.gadiDaskToasts = []);
    new g.MutationObserver(() => {
      for (const t of g.document.querySelectorAll('.notifications-toasts .notification-toast')) {
        if (t.textContent && seen.at(-1) !== t.textContent) seen.push(t.textContent);
      }
    }).observe(g.document.body, { childList: true, subtree: true, characterData: true });
  });
}

/** Waits until a toast watched by watchToasts() has shown a text matching `pattern`; returns that text. */
function toastShown(page: Page, pattern: RegExp, what: string, timeoutMs: number): Promise<string> {
  return until(what, async () => {
    const seen = await page.evaluate(() => (globalThis as unknown as ToastGlobals).gadiDaskToasts ?? []);
    return seen.find((t) => pattern.test(t));
  }, { timeoutMs, everyMs: 250 });
}

/** Runs `command` in a login shell as the sandbox's user, through OpenSSH's own client rather than the extension. */
async function sandboxShell(sandbox: Sandbox, command: string): Promise<string> {
  const ssh = ['-F', sandbox.sshConfigPath, '-o', 'BatchMode=yes', sandbox.alias, `bash -lc '${command}'`];
  return (await promisify(execFile)('ssh', ssh, { timeout: 30_000 })).stdout;
}

/** The ids of the user's jobs PBS holds and has not finished, as qstat lists them. */
async function pbsJobIds(sandbox: Sandbox): Promise<string[]> {
  const doc = JSON.parse(await sandboxShell(sandbox, 'qstat -f -F json')) as { Jobs?: Record<string, { job_state: string }> };
  return Object.entries(doc.Jobs ?? {}).filter(([, j]) => j.job_state !== 'F').map(([id]) => id).sort();
}

/** What the cluster's journal tracks, read on the sandbox: live job ids (sorted) and qsubs with no outcome. */
async function journalJobs(sandbox: Sandbox, cluster: string): Promise<{ live: string[]; unsettled: string[] }> {
  const { live, unsettled } = replayJournal(await sandboxShell(sandbox, `cat ~/.gadi-dask/clusters/${cluster}/journal.jsonl`));
  return { live: live.map((j) => j.id).sort(), unsettled };
}

function sameIds(a: string[], b: string[], what: string): void {
  if (a.join(' ') !== b.join(' ')) throw new Error(`${what}: ${a.join(', ') || '(none)'} against ${b.join(', ') || '(none)'}`);
}

/** The notebook the notebook tests write into the workspace, and its cells. */
const NOTEBOOK = 'first-steps.ipynb';
const NOTEBOOK_CELLS = [
  'from dask.distributed import Client; c = Client(); c.submit(sum, [1, 2, 3]).result()',
  '%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.figure(figsize=(6, 1.8))\nplt.plot(c.gather(c.map(lambda x: x * x, range(10))), marker="o"); plt.show()',
  'from IPython.display import HTML\n' +
    'rows = "".join(f"<tr><td>{w[\'name\']}</td><td>{w[\'nthreads\']}</td></tr>" for w in c.scheduler_info()["workers"].values())\n' +
    'HTML(f"<table><tr><th>worker</th><th>threads</th></tr>{rows}</table>")',
  '1/0',
  'import time\nprint("sleeping for a minute", flush=True)\ntime.sleep(60)',
  'print(c)',
];

/** The notebook's cells as the editor lists them (only those near the viewport are in the DOM). */
function notebookCells(page: Page, text: string): Locator {
  return page.locator('.notebook-editor .cell-list-container .monaco-list-row').filter({ hasText: text });
}

/** What the notebook's outputs show: they render in a webview, an iframe inside an iframe. */
function notebookOutputs(page: Page): Locator {
  return page.frameLocator('.notebook-editor iframe.webview').frameLocator('#active-frame').locator('.output');
}

/** Shows or hides the primary side bar (Ctrl+B). */
async function sideBar(page: Page, show: boolean): Promise<void> {
  const bar = page.locator('.part.sidebar');
  if ((await bar.isVisible()) === show) return;
  await page.keyboard.press('Control+B');
  await bar.waitFor({ state: show ? 'visible' : 'hidden', timeout: 5000 });
}

/** How far the notebook scrolls for one wheel event, whatever its delta. */
const WHEEL_STEP = 50;

/** Turns the mouse wheel over the notebook by about `dy` pixels (down, or up when negative). */
async function wheelNotebook(page: Page, dy: number): Promise<void> {
  const list = await page.locator('.notebook-editor .cell-list-container').first().boundingBox();
  if (!list) throw new Error('the notebook editor has no box on screen');
  await page.mouse.move(list.x + list.width / 2, list.y + list.height / 2);
  for (let i = Math.max(1, Math.round(Math.abs(dy) / WHEEL_STEP)); i > 0; i--) await page.mouse.wheel(0, Math.sign(dy) * WHEEL_STEP);
}

/**
 * Scrolls the notebook until the cell with `text` has its top `offset` pixels below the list's (or as near as the
 * list goes), scrolling down to find it (or up, when `dy` < 0): the editor renders only the cells near the
 * viewport, their outputs likewise, and a cell's run button shows on hover, on a cell wholly in view.
 */
async function placeCell(page: Page, text: string, offset = 100, dy = 500): Promise<Locator> {
  const cell = notebookCells(page, text).first();
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (!(await cell.waitFor({ state: 'visible', timeout: 300 }).then(() => true, () => false))) {
    if (Date.now() > deadline) throw new Error(`not visible within ${STEP_TIMEOUT_MS / 1000} s while scrolling the notebook: the cell "${text}"`);
    await wheelNotebook(page, dy);
  }
  const list = await page.locator('.notebook-editor .cell-list-container').first().boundingBox();
  if (!list) throw new Error('the notebook editor has no box on screen');
  for (let turn = 0; turn < 4; turn++) {
    const before = await cell.boundingBox();
    if (!before) throw new Error(`the cell "${text}" has no box on screen`);
    const off = before.y - (list.y + offset);
    if (Math.abs(off) < WHEEL_STEP / 2) break;
    await wheelNotebook(page, off);
    // The list moves a frame after the wheel events; not at all when it is at its end.
    const moved = await until('the notebook to scroll', async () => (await cell.boundingBox())?.y !== before.y, { timeoutMs: 1000, everyMs: 50 })
      .catch(() => false);
    if (!moved) break;
  }
  return cell;
}

/** Runs one cell with its own run button (shown on hover). */
async function runCell(page: Page, text: string): Promise<void> {
  const cell = await placeCell(page, text);
  await cell.hover();
  await cell.locator('.run-button-container .action-label[aria-label^="Execute Cell"]').click();
}

/**
 * A notebook on the running cluster, driven from the notebook editor's own UI: the kernel picker, Run All, a cell's
 * stop button, the toolbar's Restart Kernel on Cluster. `state.kernel` says whether a kernel job was started.
 */
function notebookUiTests(workspace: string, host: string, state: { kernel: boolean }): UiTest[] {
  // Every cluster config of the workspace has its controller: this one is the sandbox's.
  const kernelLabel = `Dask on Gadi: sandbox on ${host}`;
  const toolbar = (page: Page) => page.locator('.notebook-toolbar-container');
  const restartButton = (page: Page) => toolbar(page).locator('.action-label[aria-label="Restart Kernel on Cluster"]');
  return [
    {
      name: `a new ${NOTEBOOK} opens in the notebook editor and its toolbar's kernel picker selects "Dask on Gadi: sandbox on <host>"`,
      body: async (page) => {
        // The notebook alone, with the width its toolbar needs to show Restart Kernel on Cluster (a narrower
        // toolbar moves it into its "..." menu).
        await (await findInPalette(page, 'View: Close All Editors')).first().click();
        await sideBar(page, false);
        writeFileSync(join(workspace, NOTEBOOK), `${JSON.stringify({
          cells: NOTEBOOK_CELLS.map((source) => ({ cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source })),
          metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' }, language_info: { name: 'python' } },
          nbformat: 4,
          nbformat_minor: 5,
        }, null, 1)}\n`);
        // Quick Open lists a file created while the window is open once the file watcher has seen it: ask again.
        const deadline = Date.now() + STEP_TIMEOUT_MS;
        for (;;) {
          await page.keyboard.press('Control+P');
          const input = page.locator('.quick-input-widget .quick-input-box input');
          await visible(input, 'the Quick Open input after Ctrl+P');
          await input.fill(NOTEBOOK);
          const row = page.locator('.quick-input-widget .quick-input-list .monaco-list-row').filter({ hasText: NOTEBOOK });
          if (await row.first().waitFor({ state: 'visible', timeout: 3000 }).then(() => true, () => false)) break;
          if (Date.now() > deadline) throw new Error(`not visible within ${STEP_TIMEOUT_MS / 1000} s: ${NOTEBOOK} in Quick Open`);
          await closePalette(page);
        }
        await page.keyboard.press('Enter');
        await visible(notebookCells(page, 'c = Client()'), `${NOTEBOOK} in the notebook editor`);
        // The picker's button reads "Select Kernel", or names the one kernel it suggests; the list it opens shows
        // the controller, or hides it behind "Select Another Kernel…" and the extension's name.
        const picker = toolbar(page).locator('.kernel-action-view-item');
        await visible(picker, 'the kernel picker in the notebook toolbar');
        await picker.first().click();
        const rows = page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
        const ours = rows.filter({ hasText: kernelLabel });
        const further = rows.filter({ hasText: /Select Another Kernel|^Dask on Gadi(?!:)/ });
        for (let level = 0; ; level++) {
          await visible(ours.or(further), 'the kernel picker\'s list');
          if (await ours.count()) break;
          if (level === 2) throw new Error(`the kernel picker lists no "${kernelLabel}": ${(await rows.allInnerTexts()).join(' | ')}`);
          await further.first().click();
        }
        await ours.first().click();
        // The toolbar's Restart Kernel on Cluster shows only for a notebook whose kernel is this extension's.
        await visible(restartButton(page), 'Restart Kernel on Cluster in the notebook toolbar');
        const label = await picker.first().innerText();
        if (!label.includes(kernelLabel)) throw new Error(`the kernel picker shows ${label}`);
      },
    },
    {
      name: 'Run All starts the kernel next to the cluster; the outputs show 6, the figure, the HTML table and the ZeroDivisionError, where the run stops',
      body: async (page) => {
        await toolbar(page).locator('.action-label[aria-label="Run All"]').click();
        state.kernel = true;
        const outputs = notebookOutputs(page);
        // The first cell waits for the kernel's PBS job, then for Client() and the sum on the workers.
        await visible(outputs.filter({ hasText: /^\s*6\s*$/ }), 'the first cell\'s 6', 120_000);
        // Each cell's outputs render once the cell nears the viewport: bring the cell in, then look below it.
        await placeCell(page, 'plt.figure(');
        const figure = outputs.locator('img');
        await visible(figure, 'the matplotlib figure');
        const size = await figure.first().evaluate((img: { naturalWidth: number; naturalHeight: number }) => ({ width: img.naturalWidth, height: img.naturalHeight }));
        if (!size.width || !size.height) throw new Error('the figure\'s image did not load');
        const table = outputs.locator('table');
        await placeCell(page, 'IPython.display');
        await visible(table.locator('th').filter({ hasText: 'threads' }), 'the HTML table\'s header');
        const workers = await table.first().locator('td').filter({ hasText: /^sandbox-/ }).allInnerTexts();
        if (workers.length !== 2) throw new Error(`the HTML table lists ${workers.length} workers: ${workers.join(', ')}`);
        await placeCell(page, '1/0');
        await visible(outputs.filter({ hasText: 'ZeroDivisionError' }).filter({ hasText: '1/0' }), 'the ZeroDivisionError traceback');
        // As in Jupyter, the run stops at the error: the cells after it did not run.
        await visible(toolbar(page).locator('.action-label[aria-label="Run All"]'), 'Run All in the toolbar again once the run ended');
        const sleeper = await placeCell(page, 'time.sleep(60)');
        const order = await sleeper.locator('.cell-execution-order').innerText().catch(() => '');
        if (/\d/.test(order)) throw new Error(`the cell after the error ran (${order})`);
        if (await outputs.filter({ hasText: 'sleeping for a minute' }).count()) throw new Error('the cell after the error printed');
        log(`figure ${size.width}x${size.height}, workers ${workers.join(', ')}`);

        // The README's picture: the notebook from its top.
        await placeCell(page, 'c = Client()', 0, -1200);
        await page.mouse.move(0, 0);
        await settle(page.locator('.notebook-editor'));
        await page.screenshot({ path: join(RESULTS, 'notebook.png') });
      },
    },
    {
      name: 'the running cell\'s stop button interrupts time.sleep(60) within 2 s: KeyboardInterrupt, and the kernel keeps its variables',
      body: async (page) => {
        const outputs = notebookOutputs(page);
        await runCell(page, 'time.sleep(60)');
        // Stopped only once the kernel runs the cell, as a user would: it has said so.
        await visible(outputs.filter({ hasText: 'sleeping for a minute' }), 'the cell\'s "sleeping for a minute"', 30_000);
        const stop = notebookCells(page, 'time.sleep(60)').first().locator('.run-button-container .action-label[aria-label="Stop Cell Execution"]');
        await visible(stop, 'the running cell\'s stop button');
        const asked = Date.now();
        await stop.click();
        await visible(outputs.filter({ hasText: 'KeyboardInterrupt' }), 'the KeyboardInterrupt in the cell', 30_000);
        const took = Date.now() - asked;
        if (took > 2000) throw new Error(`the KeyboardInterrupt showed ${took} ms after the stop button`);
        log(`interrupted in ${took} ms`);
        await runCell(page, 'print(c)');
        await visible(outputs.filter({ hasText: '<Client:' }), 'the client printed after the interrupt');
      },
    },
    {
      name: 'Restart Kernel on Cluster in the notebook toolbar asks first; after it the kernel has forgotten the client: NameError',
      body: async (page) => {
        await watchToasts(page);
        await restartButton(page).click();
        const confirm = page.locator('.monaco-dialog-box').filter({ hasText: `Restart the kernel of ${NOTEBOOK}` });
        await visible(confirm, 'the restart confirmation');
        await confirm.getByRole('button', { name: 'Restart', exact: true }).click();
        // The restart's progress notification closes once the kernel is back: a cell run before could reach the
        // kernel that is going away.
        await toastShown(page, new RegExp(`Restarting the kernel of ${NOTEBOOK.replace('.', '\\.')}`), 'the restart\'s progress notification', 10_000);
        await toasts(page).filter({ hasText: 'Restarting the kernel' }).waitFor({ state: 'hidden', timeout: 30_000 });
        await runCell(page, 'print(c)');
        await visible(notebookOutputs(page).filter({ hasText: 'NameError' }).filter({ hasText: 'name \'c\' is not defined' }),
          'the NameError after the restart', 30_000);
      },
    },
  ];
}

/** A cluster life on the sandbox, driven the way a user does it: palette, dialogs, the PBS Jobs view. */
function clusterUiTests(sandbox: Sandbox, workspace: string): UiTest[] {
  const notebook = { kernel: false };
  const dialog = (page: Page) => page.locator('.monaco-dialog-box');
  // Worker job rows read "<id> sandbox" then their state; the scheduler's job is "<id> dask-scheduler-sandbox".
  const workerJobRows = (page: Page) => treeRows(page, /\d+ sandbox\s*Running/);
  return [
    {
      name: 'Gadi Dask: Connect asks to trust the host key in a modal dialog showing its SHA256 fingerprint',
      body: async (page) => {
        await findInPalette(page, 'Gadi Dask: Connect');
        await page.keyboard.press('Enter');
        await visible(dialog(page).filter({ hasText: sandbox.hostKeyFingerprintSha256 }), `the host key dialog with ${sandbox.hostKeyFingerprintSha256}`);
        await settle(dialog(page));
        await page.screenshot({ path: join(RESULTS, 'host-key.png') });
        await dialog(page).getByRole('button', { name: 'Trust and Connect' }).click();
        await visible(page.locator('.part.statusbar').filter({ hasText: sandbox.alias }), `the status bar naming ${sandbox.alias}`);
        await visible(treeRows(page, /^sandbox/), 'the cluster "sandbox" in the PBS Jobs view');
        await makeRoom(page);
      },
    },
    {
      name: 'Gadi Dask: Scale Cluster from the palette: type 2, the cost prompt shows the SU charge first, the progress reaches 2/2 workers',
      body: async (page) => {
        await watchToasts(page);
        await findInPalette(page, 'Gadi Dask: Scale Cluster');
        await page.keyboard.press('Enter');
        const input = page.locator('.quick-input-widget .quick-input-box input');
        await visible(page.locator('.quick-input-widget').filter({ hasText: 'scale cluster sandbox' }), 'the Scale Cluster size prompt');
        await input.fill('2');
        await page.keyboard.press('Enter');
        const prompt = dialog(page).filter({ hasText: 'Submit 2 worker jobs and a scheduler job for cluster sandbox' });
        await visible(prompt, 'the cost prompt');
        const text = await prompt.first().innerText();
        if (!/up to [\d.]+ SU/.test(text)) throw new Error(`the cost prompt shows no SU charge: ${text}`);
        await settle(prompt);
        await page.screenshot({ path: join(RESULTS, 'cost-prompt.png') });
        await prompt.getByRole('button', { name: 'Submit 3 Jobs' }).click();
        const progress = toasts(page).filter({ hasText: /Scaling sandbox/ });
        await visible(progress, 'the progress notification');
        await visible(progress.getByRole('button', { name: 'Cancel' }), 'the progress notification\'s Cancel button');
        await toastShown(page, /Scaling sandbox.*2\/2 workers connected/, 'the progress notification to say "2/2 workers connected"', 90_000);
      },
    },
    {
      name: 'the PBS Jobs view shows two running job rows, and one expands to its Dask worker',
      body: async (page) => {
        const deadline = Date.now() + 90_000;
        const refresh = page.locator('.part.sidebar .title-actions .action-label[aria-label*="Refresh"]');
        for (;;) {
          // Running, and with a worker inside: only then has the row a twistie to expand.
          const ready = page.locator('.part.sidebar .monaco-list-row:has(.monaco-tl-twistie.collapsible)').filter({ hasText: /\d+ sandbox\s*Running/ });
          if ((await ready.count()) === 2) break;
          if (Date.now() > deadline) throw new Error(`not 2 running worker jobs with workers within 90 s (rows: ${await workerJobRows(page).count()})`);
          await refresh.first().click().catch(() => undefined);
          await page.waitForTimeout(2000);
        }
        // The config beside the tree, as a user would work.
        await page.keyboard.press('Control+P');
        await page.locator('.quick-input-widget .quick-input-box input').pressSequentially(SANDBOX_CONFIG_FILE, { delay: 10 });
        await visible(page.locator('.quick-input-widget .quick-input-list .monaco-list-row').filter({ hasText: SANDBOX_CONFIG_FILE }), `${SANDBOX_CONFIG_FILE} in Quick Open`);
        await page.keyboard.press('Enter');
        await makeRoom(page);
        const row = workerJobRows(page).first();
        const id = /(\d+) sandbox/.exec(await row.innerText())![1];
        await row.click();
        await visible(treeRows(page, new RegExp(`sandbox-${id}\\.`)), `the worker sandbox-${id} under its job`);
        await visible(treeRows(page, /1 thread/), 'the worker\'s threads, memory and tasks');
        await page.mouse.move(0, 0);
        await page.screenshot({ path: join(RESULTS, 'tree.png') });
      },
    },
    {
      name: 'Gadi Dask: Cluster Report opens its charts and table, with no console error and no request off this machine',
      body: async (page) => {
        const errors: string[] = [];
        const outside: Request[] = [];
        const reportTab = page.locator('.part.editor .tab').filter({ hasText: 'Report: sandbox' });
        // The report's page and what it loads: a webview frame, its script and stylesheet.
        const onConsole = (m: ConsoleMessage) => {
          if (m.type() === 'error' && /webview|report\.(js|css)|Content Security Policy/i.test(`${m.location().url} ${m.text()}`)) errors.push(m.text());
        };
        const onRequest = (r: Request) => {
          const url = r.url();
          if (/^https?:/.test(url) && !['127.0.0.1', 'localhost'].includes(new URL(url).hostname)) outside.push(r);
        };
        page.on('console', onConsole);
        page.context().on('request', onRequest);
        try {
          await findInPalette(page, 'Gadi Dask: Cluster Report');
          await page.keyboard.press('Enter');
          await visible(reportTab, 'the report tab');
          const deadline = Date.now() + 30_000;
          let drawn: Frame | undefined;
          while (!drawn && Date.now() < deadline) {
            for (const frame of page.frames()) {
              if (await frame.locator('body[data-rendered] canvas').count().catch(() => 0)) drawn = frame;
            }
            if (!drawn) await page.waitForTimeout(500);
          }
          if (!drawn) throw new Error('the report view drew no chart within 30 s');
          const charts = await drawn.locator('canvas').count();
          const rows = await drawn.locator('table tr').count();
          if (charts !== 3 || rows < 3) throw new Error(`the report shows ${charts} charts and ${rows} table rows`);
          const text = await drawn.locator('body').innerText();
          if (!/Run 1: .*(SU spent of .* SU estimated|no SU figure)/.test(text)) throw new Error(`no run summary in the report: ${text.slice(0, 300)}`);
          await page.waitForTimeout(500);
          await page.screenshot({ path: join(RESULTS, 'cluster-report.png') });
        } finally {
          page.off('console', onConsole);
          page.context().off('request', onRequest);
        }
        if (errors.length) throw new Error(`console errors in the report view: ${errors.join(' | ')}`);
        // The webview's own resources have https URLs on a CDN host that its service worker answers from the
        // extension's files: those never leave the machine. Anything else did.
        const network: string[] = [];
        for (const r of outside) if (!(await r.response())?.fromServiceWorker()) network.push(r.url());
        if (network.length) throw new Error(`requests off this machine: ${network.join(', ')}`);
        await page.keyboard.press('Control+W');
        // The next step starts with F1: only once the report's webview, which had the focus, is gone.
        await reportTab.waitFor({ state: 'detached', timeout: 5000 });
      },
    },
    {
      name: 'Gadi Dask: Open Dashboard shows the scheduler\'s dashboard in the Simple Browser',
      body: async (page) => {
        await findInPalette(page, 'Gadi Dask: Open Dashboard');
        await page.keyboard.press('Enter');
        await visible(page.locator('.part.editor .tab').filter({ hasText: 'Simple Browser' }), 'the Simple Browser tab');
        // The dashboard page is in the Simple Browser's webview, frames deep: find the frame the tunnel serves.
        const deadline = Date.now() + 30_000;
        let body = '';
        while (Date.now() < deadline) {
          for (const frame of page.frames()) {
            // Skip the workbench and its own frames (webview shells, the worker host): they are code-server's pages.
            if (frame === page.mainFrame() || frame.url().includes('/static/') || !frame.url().startsWith('http')) continue;
            body = await frame.locator('body').innerText({ timeout: 1000 }).catch(() => '');
            if (/dask|bokeh|dashboard/i.test(body)) break;
          }
          if (/dask|bokeh|dashboard/i.test(body)) break;
          await page.waitForTimeout(500);
        }
        if (!/dask|bokeh|dashboard/i.test(body)) throw new Error(`the dashboard page did not load in the Simple Browser (frames: ${page.frames().map((f) => f.url()).join(', ')})`);
        await page.waitForTimeout(500);
        await page.screenshot({ path: join(RESULTS, 'dashboard.png') });
      },
    },
    {
      name: 'Scale Cluster to 12 with a slow qsub, Cancel pressed mid-Scale: the jobs its message reports are the new ones in PBS and in the journal',
      body: async (page) => {
        const before = await pbsJobIds(sandbox);
        sameIds(before, (await journalJobs(sandbox, 'sandbox')).live, 'before scaling, the jobs in PBS and in the journal differ');
        if (before.length !== 3) throw new Error(`not the scheduler's job and 2 worker jobs in PBS before scaling: ${before.join(', ')}`);
        // The agent reports every 5 submissions: 10 new jobs give one report, then 5 qsubs' time for the Cancel.
        const more = 10;
        // A busy server's qsub: the Cancel lands while the agent is among its submissions. Its jobs are held (-h):
        // what is checked is which jobs PBS has, and running their workers would starve the workbench of CPU.
        sandbox.wrapCommand('qsub', `sleep 3\nexec ${sandbox.realCommand('qsub')} -h "$@"\n`);
        try {
          await findInPalette(page, 'Gadi Dask: Scale Cluster');
          await page.keyboard.press('Enter');
          await visible(page.locator('.quick-input-widget').filter({ hasText: 'scale cluster sandbox' }), 'the Scale Cluster size prompt');
          await page.locator('.quick-input-widget .quick-input-box input').fill(String(2 + more));
          await page.keyboard.press('Enter');
          const prompt = dialog(page).filter({ hasText: `Submit ${more} worker jobs for cluster sandbox` });
          await visible(prompt, `the cost prompt for ${more} more jobs`);
          await prompt.getByRole('button', { name: `Submit ${more} Jobs` }).click();
          const progress = toasts(page).filter({ hasText: /Scaling sandbox/ }).filter({ hasText: new RegExp(`Submitted \\d+ of ${more} worker jobs`) });
          await visible(progress, 'the progress saying worker jobs were submitted', 60_000);
          await progress.getByRole('button', { name: 'Cancel' }).click();
          const message = toasts(page).filter({ hasText: 'Scale of cluster sandbox cancelled' });
          await visible(message, 'the message saying the scale was cancelled', 60_000);
          const text = await message.first().innerText();
          const said = /submitted (\d+) jobs? \(([^)]*)\) before it stopped/.exec(text);
          if (!said) throw new Error(`the cancelled message reports no submitted job: ${text}`);
          const reported = said[2].split(', ').sort();
          if (reported.length !== Number(said[1])) throw new Error(`the message counts ${said[1]} jobs and lists ${reported.length}: ${text}`);
          if (reported.length < 5 || reported.length >= more) throw new Error(`Cancel after 5 submissions left ${reported.length} of ${more} submitted`);
          const after = await pbsJobIds(sandbox);
          sameIds(after.filter((id) => !before.includes(id)), reported, 'the new jobs in PBS are not the ones the message reports');
          sameIds(before.filter((id) => !after.includes(id)), [], 'jobs left PBS while scaling up');
          const journal = await journalJobs(sandbox, 'sandbox');
          sameIds(journal.live, after, 'the jobs in the journal are not the ones in PBS');
          if (journal.unsettled.length) throw new Error(`qsubs begun with no outcome in the journal: ${journal.unsettled.join(', ')}`);
          log(`cancelled mid-scale: ${reported.length} of ${more} jobs submitted, all in PBS and the journal`);
          await page.keyboard.press('Escape'); // hides the toast
        } finally {
          sandbox.unwrapCommand('qsub');
        }
      },
    },
    ...notebookUiTests(workspace, sandbox.alias, notebook),
    {
      name: 'Gadi Dask: Shut Down Cluster asks first, and whether the notebook\'s kernel goes too; then the view shows no job and qstat lists none',
      body: async (page) => {
        await sideBar(page, true);
        // The notebook's kernel job shows under its cluster; Shut Down then asks about it too.
        if (notebook.kernel) await visible(treeRows(page, /Kernel job \d+\s*Running/), 'the notebook\'s kernel job in the PBS Jobs view', 30_000);
        await findInPalette(page, 'Gadi Dask: Shut Down Cluster');
        await page.keyboard.press('Enter');
        const confirm = dialog(page).filter({ hasText: 'Shut down cluster sandbox' });
        await visible(confirm, 'the shut-down confirmation');
        if (notebook.kernel) {
          await visible(confirm.filter({ hasText: 'The kernel next to the cluster is running' }), 'the question about the kernel');
          await confirm.getByRole('button', { name: 'Stop the kernel too' }).click();
        } else {
          await confirm.getByRole('button', { name: 'Shut Down' }).click();
        }
        await visible(treeRows(page, 'No jobs in the queue'), 'the view without jobs', 60_000);
        if (await workerJobRows(page).count()) throw new Error('worker job rows are still listed');
        await until('qstat to list no job of the user', async () => (await pbsJobIds(sandbox)).length === 0, { timeoutMs: 30_000, everyMs: 1000 });
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

    // The sandbox cluster for the cluster tests. Its host key is left out of known_hosts (StrictHostKeyChecking
    // ask), so connecting asks the user to trust it, as it would the first time on Gadi.
    const sandbox = await startSandbox({ user: SANDBOX_USER });
    teardown.add(() => sandbox.stop());
    writeSandboxConfig(workspace, sandbox);
    const sshDir = mkdtempSync(join(tmpdir(), 'gadi-dask-ui-ssh-'));
    teardown.add(() => rmSync(sshDir, { recursive: true, force: true }));
    const sshConfig = join(sshDir, 'ssh_config');
    const knownHosts = join(sshDir, 'known_hosts');
    writeFileSync(knownHosts, '');
    writeFileSync(sshConfig, readFileSync(sandbox.sshConfigPath, 'utf8')
      .replace(/^(\s*UserKnownHostsFile\s).*$/m, `$1${knownHosts}`)
      .replace(/^(\s*StrictHostKeyChecking\s).*$/m, '$1ask'));
    log(`sandbox ${sandbox.alias} (${sandbox.user}@127.0.0.1:${sandbox.port}), host key ${sandbox.hostKeyFingerprintSha256}`);

    const server = await startCodeServer({
      installExtensions: [vsix],
      settings: { 'gadiDask.configFile': SANDBOX_CONFIG_FILE, 'gadiDask.refreshInterval': 5 },
      machineSettings: { ...sandboxSettings(sandbox), 'gadiDask.ssh.configFile': sshConfig, 'gadiDask.ssh.knownHostsFile': knownHosts },
    });
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
        for (const t of [...uiTests(server.installedExtensions), ...clusterUiTests(sandbox, workspace)]) {
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
  return finishLayer(started, memory, passed, failed);
}

runLayer(main);
