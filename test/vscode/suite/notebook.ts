// The notebook controller in the real extension host, on the sandbox's running cluster (registered by the cluster
// suite while its cluster runs): a .ipynb selects "Dask on Gadi: sandbox on <host>", its cells run in the kernel job
// next to the cluster, and their outputs are VS Code's own output items. Interrupt, Restart, and a link dropped
// during a cell.
import * as assert from 'node:assert/strict';
import { stripVTControlCharacters } from 'node:util';
import * as vscode from 'vscode';
import type { GadiDaskApi } from '../../../src/extension/extension';
import { until as poll } from '../../fixtures/poll';

const EXTENSION_ID = 'gadi-dask.gadi-dask';
const ERROR_MIME = 'application/vnd.code.notebook.error';

const CELLS = [
  'from dask.distributed import Client; c = Client(); c.submit(sum, [1, 2, 3]).result()',
  '%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [3, 1, 2]); plt.show()',
  'from IPython.display import HTML\nHTML("<table><tr><td>42</td></tr></table>")',
  'x = 41\n1/0',
  'import time\nprint("sleeping", flush=True)\ntime.sleep(60)',
  'print(x + 1)',
];

const until = <T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000, everyMs = 200) =>
  poll(what, async () => probe(), { timeoutMs, everyMs });

function items(cell: vscode.NotebookCell): { mime: string; text: string }[] {
  return cell.outputs.flatMap((o) => o.items.map((i) => ({ mime: i.mime, text: new TextDecoder().decode(i.data) })));
}

function text(cell: vscode.NotebookCell, mime: string): string {
  return items(cell).filter((i) => i.mime === mime).map((i) => i.text).join('');
}

export function notebookTests(context: () => { api: GadiDaskApi; shell: (command: string) => Promise<string>; config: string; host: string }): void {
  let notebook: vscode.NotebookDocument;
  const cell = (i: number) => notebook.cellAt(i);
  let since = 0;
  /**
   * Asks for the runs of cells start..end-1 and returns at once (the command itself resolves only when they end);
   * `ended` then waits for a run that started after this call.
   */
  const runCells = (start: number, end = start + 1) => {
    since = Date.now();
    void Promise.resolve(vscode.commands.executeCommand('notebook.cell.execute', { ranges: [{ start, end }], document: notebook.uri })).catch(() => undefined);
  };
  const ended = (i: number, timeoutMs = 240_000) => until(`cell ${i} to end`, () => {
    const timing = cell(i).executionSummary?.timing;
    return timing && timing.startTime >= since && timing.endTime >= timing.startTime ? cell(i) : undefined;
  }, timeoutMs);

  test('the controller "Dask on Gadi: sandbox on <host>" is offered for notebooks and a notebook selects it', async () => {
    const { api, config, host } = context();
    const offered = await api.notebookControllers();
    const mine = offered.find((c) => c.config === config);
    assert.ok(mine, `a controller for the sandbox's config among ${JSON.stringify(offered)}`);
    assert.equal(mine.label, `Dask on Gadi: sandbox on ${host}`);
    const id = mine.id;
    const data = new vscode.NotebookData(CELLS.map((code) => new vscode.NotebookCellData(vscode.NotebookCellKind.Code, code, 'python')));
    notebook = await vscode.workspace.openNotebookDocument('jupyter-notebook', data);
    await vscode.window.showNotebookDocument(notebook);
    await vscode.commands.executeCommand('notebook.selectKernel', { id, extension: EXTENSION_ID });
    // code-server has no Jupyter extension: nothing is offered to it, and the controller alone serves.
    assert.equal(await api.jupyterServers(), false);
  });

  test('the first cell starts the kernel job; its Client() computes on the cluster: 6, with its execution order', async function () {
    this.timeout(300_000);
    runCells(0);
    const c = await ended(0);
    assert.equal(c.executionSummary?.success, true, JSON.stringify(items(c)));
    assert.equal(text(c, 'text/plain'), '6');
    assert.equal(c.executionSummary?.executionOrder, 1);
  });

  test('a matplotlib figure renders as image/png, an HTML table as text/html, 1/0 as an error with its traceback', async function () {
    this.timeout(120_000);
    runCells(1, 4);
    const [png, html, error] = [await ended(1), await ended(2), await ended(3)];
    const image = png.outputs.flatMap((o) => o.items).find((i) => i.mime === 'image/png');
    assert.ok(image, JSON.stringify(items(png).map((i) => i.mime)));
    assert.deepEqual([...image.data.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    assert.match(text(html, 'text/html'), /<td>42<\/td>/);
    assert.equal(error.executionSummary?.success, false);
    const e = JSON.parse(text(error, ERROR_MIME)) as { name: string; message: string; stack: string };
    assert.equal(e.name, 'ZeroDivisionError');
    assert.match(stripVTControlCharacters(e.stack), /----> 2 1\/0/);
  });

  test('Interrupt stops time.sleep(60) within 2 s (the kernel\'s interrupt: its variables stay)', async function () {
    this.timeout(120_000);
    runCells(4);
    await until('the cell to print', () => (text(cell(4), 'application/vnd.code.notebook.stdout').includes('sleeping') ? true : undefined), 60_000, 50);
    const asked = Date.now();
    await vscode.commands.executeCommand('notebook.cell.cancelExecution', { ranges: [{ start: 4, end: 5 }], document: notebook.uri });
    const c = await ended(4, 30_000);
    const took = Date.now() - asked;
    assert.equal(c.executionSummary?.success, false, JSON.stringify(items(c)));
    assert.equal((JSON.parse(text(c, ERROR_MIME)) as { name: string }).name, 'KeyboardInterrupt');
    assert.ok(took < 2000, `the interrupt took ${took} ms`);
    runCells(5);
    assert.equal(text(await ended(5), 'application/vnd.code.notebook.stdout').trim(), '42');
  });

  test('a link dropped during a 20 s cell: the kernel, its variables and the cluster survive, and the controller re-attaches by itself', async function () {
    this.timeout(180_000);
    const { api, shell } = context();
    const [before] = api.connections();
    const edit = new vscode.WorkspaceEdit();
    edit.set(notebook.uri, [vscode.NotebookEdit.insertCells(6, [
      new vscode.NotebookCellData(vscode.NotebookCellKind.Code, 'import time\nfor i in range(20):\n    time.sleep(1)\ny = 7\nprint("done")', 'python'),
      new vscode.NotebookCellData(vscode.NotebookCellKind.Code, 'print(x, y)', 'python'),
    ])]);
    assert.ok(await vscode.workspace.applyEdit(edit));
    runCells(6);
    await new Promise((r) => setTimeout(r, 3000));
    await shell('pkill -KILL -u "$(id -u)" -x sshd').catch(() => undefined);
    await until('the link to drop and come back', () => {
      const [c] = api.connections();
      return c && c.drops > before.drops && c.state === 'connected' ? c : undefined;
    }, 60_000, 50);
    const long = await ended(6, 120_000);
    const out = items(long).map((i) => i.text).join('');
    assert.ok(long.executionSummary?.success === true || /Output lost while disconnected/.test(out), out);
    runCells(7);
    const after = await ended(7, 60_000);
    assert.equal(text(after, 'application/vnd.code.notebook.stdout').trim(), '41 7', 'the same kernel, its variables kept');
  });

  test('Restart Kernel on Cluster clears the kernel\'s variables and leaves the cluster running', async function () {
    this.timeout(120_000);
    const { api } = context();
    assert.equal(await vscode.commands.executeCommand('gadiDask.restartKernel', { notebook: notebook.uri.toString(), confirm: false }), true,
      api.errors.at(-1)?.message);
    runCells(5);
    const c = await ended(5);
    assert.equal(c.executionSummary?.success, false);
    assert.equal((JSON.parse(text(c, ERROR_MIME)) as { name: string }).name, 'NameError');
  });
}
