// The few most recent texts and what was computed from them: the server asks for diagnostics, then completion,
// hover and code actions on the same text, and a config is parsed once for all of them.
import { ConfigDocument, lintText, type LintResult } from '../../core/config';

const SIZE = 4;

interface Entry {
  text: string;
  docBase: string | undefined;
  lint?: LintResult;
  document: ConfigDocument;
}

const recent: Entry[] = [];

function remember(entry: Entry): Entry {
  recent.unshift(entry);
  if (recent.length > SIZE) recent.length = SIZE;
  return entry;
}

/** The lint of `text` with rule links under `docBase`. */
export function lint(text: string, docBase: string | undefined): LintResult {
  const hit = recent.find((e) => e.lint && e.text === text && e.docBase === docBase);
  if (hit?.lint) return hit.lint;
  const result = lintText(text, docBase === undefined ? {} : { docBase });
  return remember({ text, docBase, lint: result, document: result.document }).lint as LintResult;
}

/** The parsed document of `text`, shared with its lint when there is one. */
export function documentFor(text: string): ConfigDocument {
  const hit = recent.find((e) => e.text === text);
  return hit ? hit.document : remember({ text, docBase: undefined, document: new ConfigDocument(text) }).document;
}
