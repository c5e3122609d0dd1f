// The config-file language server: LSP glue only. Every answer comes from the pure language service; this file
// moves documents in and results out, debounces linting while the user types, and keeps a failing handler from
// taking the server down (it logs and answers with nothing).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CodeActionKind, createConnection, ProposedFeatures, TextDocuments, TextDocumentSyncKind, type InitializeResult,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import {
  callCodeActions, codeActions, CONFIG_FROM_CALL_KIND, completion, diagnostics, docBaseFromRepository, forgetDocument,
  hover,
} from './service';

/** Quiet time after the last keystroke before a changed document is linted again. */
const DEBOUNCE_MS = 150;

const connection = createConnection(ProposedFeatures.all);
const documents = new TextDocuments(TextDocument);
const timers = new Map<string, NodeJS.Timeout>();
/** The version of each document whose diagnostics were last published. */
const published = new Map<string, number>();

/** The rules page linked from each diagnostic: docs/rules.md in the repository package.json names. */
function packagedDocBase(): string | undefined {
  try {
    // The bundle is dist/server.js; package.json sits one level up, in the repository and in the .vsix alike.
    const manifest = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { repository?: unknown };
    return docBaseFromRepository(manifest.repository);
  } catch {
    return undefined;
  }
}

let docBase = packagedDocBase();

// Python files and notebook cells come only for the PBSCluster code action: they are never linted as configs.
const isConfig = (doc: TextDocument) => doc.languageId !== 'python';

/** True when a code action request limited to `only` kinds wants actions of `kind`. */
function wanted(only: readonly string[] | undefined, kind: string): boolean {
  return !only || only.some((k) => !k || kind === k || kind.startsWith(`${k}.`));
}

function describe(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

/** Runs a handler; an internal error is logged and answered with `fallback`, never thrown at the client. */
function guard<T>(what: string, fallback: T, work: () => T): T {
  try {
    return work();
  } catch (err) {
    connection.console.error(`${what} failed: ${describe(err)}`);
    return fallback;
  }
}

function cancelPending(uri: string): void {
  const timer = timers.get(uri);
  if (timer) clearTimeout(timer);
  timers.delete(uri);
}

function publish(doc: TextDocument): void {
  cancelPending(doc.uri);
  if (!isConfig(doc)) return;
  const found = guard(`Linting ${doc.uri}`, [], () => diagnostics(doc.getText(), docBase));
  published.set(doc.uri, doc.version);
  connection.sendDiagnostics({ uri: doc.uri, version: doc.version, diagnostics: found })
    .catch((err: unknown) => connection.console.error(`Publishing diagnostics failed: ${describe(err)}`));
}

function schedule(uri: string): void {
  cancelPending(uri);
  timers.set(uri, setTimeout(() => {
    timers.delete(uri);
    const doc = documents.get(uri);
    if (doc) publish(doc);
  }, DEBOUNCE_MS));
}

connection.onInitialize((params): InitializeResult => {
  const options = params.initializationOptions as { docBase?: unknown } | undefined;
  if (typeof options?.docBase === 'string' && options.docBase) docBase = options.docBase;
  return {
    capabilities: {
      textDocumentSync: TextDocumentSyncKind.Incremental,
      completionProvider: { triggerCharacters: [':', ' ', '-', '"'], resolveProvider: false },
      hoverProvider: true,
      codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix, CONFIG_FROM_CALL_KIND] },
    },
    serverInfo: { name: 'gadi-dask config linter' },
  };
});

// Opening shows problems at once; typing waits for a pause.
documents.onDidOpen((e) => publish(e.document));
documents.onDidChangeContent((e) => {
  // Also fired on open, right after onDidOpen published this very version.
  if (published.get(e.document.uri) === e.document.version || !isConfig(e.document)) return;
  schedule(e.document.uri);
});
documents.onDidClose((e) => {
  cancelPending(e.document.uri);
  published.delete(e.document.uri);
  forgetDocument(e.document.uri);
  if (!isConfig(e.document)) return;
  connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] })
    .catch((err: unknown) => connection.console.error(`Clearing diagnostics failed: ${describe(err)}`));
});

connection.onCompletion((params) => guard('Completion', null, () => {
  const doc = documents.get(params.textDocument.uri);
  return doc && isConfig(doc) ? completion(doc.getText(), params.position) : null;
}));

connection.onHover((params) => guard('Hover', null, () => {
  const doc = documents.get(params.textDocument.uri);
  return doc && isConfig(doc) ? hover(doc.getText(), params.position) : null;
}));

connection.onCodeAction((params) => guard('Code actions', [], () => {
  const doc = documents.get(params.textDocument.uri);
  const only = params.context.only;
  if (!doc) return [];
  if (!isConfig(doc)) return wanted(only, CONFIG_FROM_CALL_KIND) ? callCodeActions(doc.getText(), params.range, doc.uri) : [];
  if (!wanted(only, CodeActionKind.QuickFix)) return [];
  return codeActions(doc.getText(), params.range, params.context.diagnostics, doc.uri);
}));

documents.listen(connection);
connection.listen();
