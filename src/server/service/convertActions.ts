// The code action on a PBSCluster(...) call in Python (a file or a notebook cell): "Create cluster config from
// this call". The server converts the call; the extension's command, which the action carries, writes the file
// (it knows the workspace and the user's ssh host) and says what could not be converted.
import { CodeActionKind, type CodeAction, type Range } from 'vscode-languageserver-types';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { callAt, draftFromCall, parsePython, type ConfigDraft, type PbsClusterCall, type PythonParse } from '../../core/convert';

/** Registered by the extension (src/extension/commands/index.ts) and contributed in package.json. */
export const CONFIG_FROM_CALL_COMMAND = 'gadiDask.createConfigFromCall';
export const CONFIG_FROM_CALL_TITLE = 'Create cluster config from this call';
export const CONFIG_FROM_CALL_KIND = CodeActionKind.RefactorExtract;

/** What the command receives. */
export interface ConfigFromCallArgs {
  /** The document the call is in (a file, or a notebook cell's URI). */
  source: string;
  /** 0-based line of the call in that document. */
  line: number;
  draft: ConfigDraft;
}

export function isNotebookCell(uri: string): boolean {
  return uri.startsWith('vscode-notebook-cell:');
}

// VS Code asks for code actions at every cursor move and after every edit: a text is parsed once, and an edited
// one only around the edit (the last parse of each document is kept).
const MAX_DOCUMENTS = 8;
const parses = new Map<string, PythonParse>();

function callsIn(uri: string, text: string): readonly PbsClusterCall[] {
  if (!text.includes('PBSCluster')) return [];
  const previous = parses.get(uri);
  if (previous?.text === text) return previous.calls;
  const parse = parsePython(text, { ipython: isNotebookCell(uri), previous });
  parses.delete(uri);
  parses.set(uri, parse);
  if (parses.size > MAX_DOCUMENTS) parses.delete(parses.keys().next().value as string);
  return parse.calls;
}

/** Forget a closed document's parse. */
export function forgetDocument(uri: string): void {
  parses.delete(uri);
}

/** The action for the PBSCluster call that `range` touches in Python source `text`, if any. */
export function callCodeActions(text: string, range: Range, uri: string): CodeAction[] {
  const calls = callsIn(uri, text);
  if (!calls.length) return [];
  const doc = TextDocument.create(uri, 'python', 0, text);
  const call = callAt(calls, { start: doc.offsetAt(range.start), end: doc.offsetAt(range.end) });
  if (!call) return [];
  const args: ConfigFromCallArgs = { source: uri, line: call.line, draft: draftFromCall(call) };
  return [{
    title: CONFIG_FROM_CALL_TITLE,
    kind: CONFIG_FROM_CALL_KIND,
    command: { title: CONFIG_FROM_CALL_TITLE, command: CONFIG_FROM_CALL_COMMAND, arguments: [args] },
  }];
}
