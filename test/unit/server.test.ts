// The language server as an editor sees it: dist/server.js started over stdio and driven with JSON-RPC through
// initialize, didOpen → publishDiagnostics, completion, hover, codeAction, a debounced change and didClose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';
import type {
  CodeAction, CompletionList, Diagnostic, Hover, InitializeResult, MarkupContent, PublishDiagnosticsParams, TextEdit,
} from 'vscode-languageserver/node';
import { HISTORY_NOTIFICATION } from '../../src/core/cluster/advice';
import { applyTextEdits } from '../../src/core/config';
import { ACCOUNT_CONFIG } from '../fixtures/configs';
import { within } from '../fixtures/poll';

const ROOT = join(__dirname, '..', '..');
const SERVER = join(ROOT, 'dist', 'server.js');
const URI = 'file:///home/abc123/project/cluster.dask-cluster.yaml';
const DOCS = 'https://github.com/gadi-dask/gadi-dask/blob/main/docs/rules.md';

const ACCOUNT = ACCOUNT_CONFIG;

function newestSource(dir: string): number {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .reduce((t, e) => Math.max(t, statSync(join(e.parentPath, e.name)).mtimeMs), 0);
}

/** Builds the bundle when it is missing or older than its sources, so the test never runs stale code. */
function ensureBuilt(): void {
  const sources = Math.max(newestSource(join(ROOT, 'src', 'server')), newestSource(join(ROOT, 'src', 'core')));
  if (existsSync(SERVER) && statSync(SERVER).mtimeMs >= sources) return;
  const build = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.equal(build.status, 0, `build failed:\n${build.stdout}\n${build.stderr}`);
}

/** Collects publishDiagnostics notifications and lets the test wait for the next one of a document. */
class Published {
  readonly all: PublishDiagnosticsParams[] = [];
  private waiters: { uri: string; resolve: (p: PublishDiagnosticsParams) => void }[] = [];

  add(p: PublishDiagnosticsParams): void {
    this.all.push(p);
    const i = this.waiters.findIndex((w) => w.uri === p.uri);
    if (i >= 0) this.waiters.splice(i, 1)[0].resolve(p);
  }

  next(uri: string, ms = 5000): Promise<PublishDiagnosticsParams> {
    return within(new Promise((resolve) => this.waiters.push({ uri, resolve })), ms, `publishDiagnostics for ${uri}`);
  }
}

interface Session {
  child: ChildProcessWithoutNullStreams;
  rpc: MessageConnection;
  published: Published;
  stderr: () => string;
}

function start(): Session {
  const child = spawn(process.execPath, [SERVER, '--stdio'], { cwd: ROOT });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const rpc = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  const published = new Published();
  rpc.onNotification('textDocument/publishDiagnostics', (p: PublishDiagnosticsParams) => published.add(p));
  rpc.listen();
  return { child, rpc, published, stderr: () => stderr };
}

async function stop(s: Session): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => s.child.once('exit', (code) => resolve(code)));
  await within(s.rpc.sendRequest('shutdown'), 5000, 'shutdown');
  await s.rpc.sendNotification('exit');
  const code = await within(exited, 5000, 'server exit');
  s.rpc.dispose();
  return code;
}

async function initialize(s: Session): Promise<InitializeResult> {
  const result = await within(s.rpc.sendRequest<InitializeResult>('initialize', {
    processId: process.pid,
    rootUri: null,
    capabilities: { textDocument: { completion: { completionItem: { snippetSupport: true } }, publishDiagnostics: { versionSupport: true } } },
  }), 10_000, 'initialize');
  await s.rpc.sendNotification('initialized', {});
  return result;
}

function open(s: Session, uri: string, text: string): Promise<void> {
  return s.rpc.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'dask-cluster', version: 1, text } });
}

function change(s: Session, uri: string, version: number, text: string): Promise<void> {
  return s.rpc.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [{ text }] });
}

const at = (text: string, needle: string, delta = 0) => {
  const offset = text.indexOf(needle) + delta;
  const before = text.slice(0, offset).split('\n');
  return { line: before.length - 1, character: before[before.length - 1].length };
};

test('dist/server.js answers an editor: diagnostics with codes and links, completion, hover, quick fix, close', { timeout: 60_000 }, async () => {
  ensureBuilt();
  const s = start();
  try {
    const init = await initialize(s);
    const caps = init.capabilities;
    assert.deepEqual(caps.completionProvider?.triggerCharacters, [':', ' ', '-', '"']);
    assert.equal(caps.hoverProvider, true);
    assert.deepEqual(caps.codeActionProvider, { codeActionKinds: ['quickfix', 'refactor.extract'] });

    const opened = s.published.next(URI);
    await open(s, URI, ACCOUNT);
    const first = await opened;
    assert.equal(first.version, 1);
    const account = first.diagnostics.find((d) => d.code === 'gadi/account-directive');
    assert.ok(account, JSON.stringify(first.diagnostics));
    assert.equal(account.range.start.line, 8);
    assert.equal(account.source, 'gadi-dask');
    assert.equal(account.codeDescription?.href, `${DOCS}#gadi-account-directive`);

    // On the cores key: the other keys of jobqueue.pbs, minus those already in the file.
    const list = await s.rpc.sendRequest<CompletionList>('textDocument/completion', {
      textDocument: { uri: URI }, position: at(ACCOUNT, 'cores', 1),
    });
    const labels = list.items.map((i) => i.label);
    assert.ok(labels.includes('walltime') && labels.includes('cores'), JSON.stringify(labels));
    assert.ok(!labels.includes('memory') && !labels.includes('queue'), JSON.stringify(labels));

    const hover = await s.rpc.sendRequest<Hover>('textDocument/hover', { textDocument: { uri: URI }, position: at(ACCOUNT, 'cores', 2) });
    assert.match((hover.contents as MarkupContent).value, /Total number of cores per job/);

    const actions = await s.rpc.sendRequest<CodeAction[]>('textDocument/codeAction', {
      textDocument: { uri: URI }, range: account.range, context: { diagnostics: [account] },
    });
    assert.equal(actions.length, 1);
    assert.equal(actions[0].kind, 'quickfix');
    assert.equal(actions[0].isPreferred, true);
    const edits = actions[0].edit?.changes?.[URI] as TextEdit[];
    const fixed = applyTextEdits(ACCOUNT, edits);
    assert.match(fixed, /-P ab12/);
    const none = await s.rpc.sendRequest<CodeAction[]>('textDocument/codeAction', {
      textDocument: { uri: URI }, range: account.range, context: { diagnostics: [account], only: ['source'] },
    });
    assert.deepEqual(none, []);

    const after = s.published.next(URI);
    await change(s, URI, 2, fixed);
    const second = await after;
    assert.equal(second.version, 2);
    assert.deepEqual(second.diagnostics.map((d: Diagnostic) => d.code), []);

    const closed = s.published.next(URI);
    await s.rpc.sendNotification('textDocument/didClose', { textDocument: { uri: URI } });
    assert.deepEqual((await closed).diagnostics, []);
    assert.equal(await stop(s), 0);
  } finally {
    s.child.kill();
  }
});

test('Python files and notebook cells: the PBSCluster code action, and nothing else (no lint, completion, hover)', { timeout: 60_000 }, async () => {
  ensureBuilt();
  const s = start();
  try {
    await initialize(s);
    const file = 'file:///home/abc123/project/analysis.py';
    const cell = 'vscode-notebook-cell:/home/abc123/project/analysis.ipynb#W1sZmlsZQ%3D%3D';
    const code = 'import sys\ncluster = PBSCluster(cores=48, memory="192GB",\n    python=sys.executable)\n';
    const open = (uri: string, text: string) => s.rpc.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'python', version: 1, text } });
    await open(file, code);
    await open(cell, `%%time\n${code}`);
    const request = (uri: string, line: number, only?: string[]) => s.rpc.sendRequest<CodeAction[]>('textDocument/codeAction', {
      textDocument: { uri }, range: { start: { line, character: 12 }, end: { line, character: 12 } }, context: { diagnostics: [], ...(only ? { only } : {}) },
    });
    const [action] = await request(file, 1);
    assert.equal(action.title, 'Create cluster config from this call');
    assert.equal(action.kind, 'refactor.extract');
    assert.equal(action.command?.command, 'gadiDask.createConfigFromCall');
    const args = action.command?.arguments?.[0] as { source: string; line: number; draft: { pbs: [string, unknown][]; notConverted: { argument: string }[] } };
    assert.equal(args.source, file);
    assert.equal(args.line, 1);
    assert.deepEqual(args.draft.pbs.map(([k]) => k), ['cores', 'memory']);
    assert.deepEqual(args.draft.notConverted.map((n) => n.argument), ['python=sys.executable']);
    // In a cell, past an IPython magic; not on the import line; not when only quick fixes are asked for.
    assert.equal((await request(cell, 2)).length, 1);
    assert.deepEqual(await request(file, 0), []);
    assert.deepEqual(await request(file, 1, ['quickfix']), []);
    assert.equal((await request(file, 1, ['refactor'])).length, 1);
    assert.equal(await s.rpc.sendRequest('textDocument/hover', { textDocument: { uri: file }, position: { line: 1, character: 12 } }), null);
    assert.equal(await s.rpc.sendRequest('textDocument/completion', { textDocument: { uri: file }, position: { line: 1, character: 12 } }), null);
    // A config opened after them is linted; the Python documents never were.
    const config = s.published.next(URI);
    await s.rpc.sendNotification('textDocument/didOpen', { textDocument: { uri: URI, languageId: 'dask-cluster', version: 1, text: ACCOUNT } });
    await config;
    assert.deepEqual(s.published.all.map((p) => p.uri), [URI]);
    assert.equal(await stop(s), 0);
  } finally {
    s.child.kill();
  }
});

test('changes are linted once typing pauses, not on every keystroke', { timeout: 30_000 }, async () => {
  ensureBuilt();
  const s = start();
  try {
    await initialize(s);
    const uri = 'file:///home/abc123/project/typing.dask-cluster.yaml';
    const opened = s.published.next(uri);
    await open(s, uri, ACCOUNT);
    await opened;
    const t0 = performance.now();
    const settled = s.published.next(uri);
    let text = ACCOUNT;
    for (let v = 2; v <= 6; v++) {
      text = text.replace('account: ab12', `account: ab1${v}`);
      await change(s, uri, v, text);
    }
    const published = await settled;
    const waited = performance.now() - t0;
    assert.equal(published.version, 6);
    assert.ok(waited >= 100, `published ${waited.toFixed(0)} ms after the first change: not debounced`);
    // Nothing else arrives for the intermediate versions.
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual(s.published.all.filter((p) => p.uri === uri).map((p) => p.version), [1, 6]);
    assert.equal(await stop(s), 0);
  } finally {
    s.child.kill();
  }
});

test('garbage, a BOM with CRLF and deep nesting: the server answers every request and stays up', { timeout: 60_000 }, async () => {
  ensureBuilt();
  const s = start();
  try {
    await initialize(s);
    const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 2654435761) % 256)).toString('latin1');
    const texts = [bytes, `\ufeff${ACCOUNT.replace(/\n/g, '\r\n')}`, `${'['.repeat(10_000)}`, `${'- '.repeat(10_000)}x`, ''];
    for (const [i, text] of texts.entries()) {
      const uri = `file:///home/abc123/project/odd-${i}.dask-cluster.yaml`;
      const published = s.published.next(uri, 10_000);
      await open(s, uri, text);
      const p = await published;
      assert.ok(Array.isArray(p.diagnostics));
      const position = { line: 0, character: 2 };
      await within(s.rpc.sendRequest('textDocument/completion', { textDocument: { uri }, position }), 10_000, 'completion');
      await within(s.rpc.sendRequest('textDocument/hover', { textDocument: { uri }, position }), 10_000, 'hover');
      await within(s.rpc.sendRequest('textDocument/codeAction', {
        textDocument: { uri }, range: { start: position, end: position }, context: { diagnostics: p.diagnostics },
      }), 10_000, 'codeAction');
    }
    const crlf = s.published.all.find((p) => p.uri.endsWith('odd-1.dask-cluster.yaml'));
    assert.ok(crlf?.diagnostics.some((d) => d.code === 'gadi/account-directive' && d.range.start.line === 8));
    // A request for a document the server never saw is answered, not crashed on.
    const unknown = await s.rpc.sendRequest('textDocument/hover', { textDocument: { uri: 'file:///nowhere.yaml' }, position: { line: 0, character: 0 } });
    assert.equal(unknown, null);
    assert.equal(await stop(s), 0, s.stderr());
  } finally {
    s.child.kill();
  }
});

test('the JSON Schema ships for other editors but is not contributed through yamlValidation (no error twice)', () => {
  ensureBuilt();
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { contributes: Record<string, unknown> };
  assert.equal(manifest.contributes.yamlValidation, undefined);
  assert.equal(manifest.contributes.jsonValidation, undefined);
  const schema = JSON.parse(readFileSync(join(ROOT, 'schemas', 'dask-cluster.schema.json'), 'utf8')) as { properties?: Record<string, unknown> };
  assert.ok(schema.properties?.jobqueue, 'the generated schema has no jobqueue section');
  assert.match(readFileSync(join(ROOT, '.vscodeignore'), 'utf8'), /^!schemas\/\*\*$/m);
});

test('a cluster\'s history sent by the extension brings advice on its config, with a fix that edits only memory', { timeout: 30_000 }, async () => {
  const s = start();
  try {
    ensureBuilt();
    await initialize(s);
    const text = 'jobqueue:\n  pbs:\n    name: demo\n    cores: 48\n    memory: 192GB\n    walltime: \'01:00:00\'\n    queue: normal\n';
    const first = s.published.next(URI);
    await open(s, URI, text);
    assert.ok(!(await first).diagnostics.some((d) => String(d.code).startsWith('history/')), 'no advice without a history');
    const job = { queue: 'normal', ncpus: 48, memPeakBytes: 20 * 2 ** 30, memRequestBytes: 192 * 2 ** 30, walltimeSeconds: 3000, walltimeLimitSeconds: 3600 };
    const advised = s.published.next(URI);
    await s.rpc.sendNotification(HISTORY_NOTIFICATION, { cluster: 'demo', jobs: [job, job, job] });
    const memory = (await advised).diagnostics.find((d) => d.code === 'history/memory');
    assert.ok(memory, 'the memory advice');
    assert.equal(memory.severity, 3); // information
    assert.match(String(memory.message), /peaked at 20\/192 GB/);
    const actions = await s.rpc.sendRequest<CodeAction[]>('textDocument/codeAction', {
      textDocument: { uri: URI }, range: memory.range, context: { diagnostics: [memory] },
    });
    assert.equal(applyTextEdits(text, actions[0].edit?.changes?.[URI] as TextEdit[]), text.replace('192GB', '30GB'));
    const withdrawn = s.published.next(URI);
    await s.rpc.sendNotification(HISTORY_NOTIFICATION, { cluster: 'demo', jobs: [] });
    assert.ok(!(await withdrawn).diagnostics.some((d) => String(d.code).startsWith('history/')), 'disconnected: no advice');
    assert.equal(await stop(s), 0);
  } finally {
    s.child.kill();
  }
});
