// Reading what a remote script printed. Our scripts frame their output with lines `<marker>:<tag>` (a marker unique
// to the call, so nothing a login banner or a job prints can be taken for one), and the runtime frames its one JSON
// document with @@GADI_DASK_BEGIN@@ / @@GADI_DASK_END@@. Anything outside the frames is noise and ignored.
import { RemoteOutputError } from './errors';

export const RUNTIME_BEGIN = '@@GADI_DASK_BEGIN@@';
export const RUNTIME_END = '@@GADI_DASK_END@@';

export interface Section {
  /** The tag split at `:` (e.g. `sub:0:rc:0` → ['sub', '0', 'rc', '0']). */
  readonly tag: readonly string[];
  /** The lines after the marker line, up to the next one, without the blank line the marker printing adds. */
  readonly body: string;
}

export interface Sections {
  readonly list: readonly Section[];
  /** True when the script reached its end marker (it was not cut short). */
  readonly complete: boolean;
  first(name: string): Section | undefined;
  all(name: string): Section[];
}

export function excerptOf(text: string, max = 240): string {
  const t = text.trim();
  return JSON.stringify(t.length > max ? `${t.slice(0, max / 2)} … ${t.slice(-max / 2)}` : t);
}

/** Splits stdout at our marker lines. Throws RemoteOutputError when the begin marker never appears. */
export function parseSections(stdout: string, marker: string, what: string, stderr = ''): Sections {
  const prefix = `${marker}:`;
  const list: Section[] = [];
  let begun = false;
  let complete = false;
  let current: { tag: string[]; lines: string[] } | undefined;
  const close = () => {
    if (current) list.push({ tag: current.tag, body: current.lines.join('\n').replace(/^\n+|\n+$/g, '') });
    current = undefined;
  };
  for (const raw of stdout.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.startsWith(prefix)) {
      const tag = line.slice(prefix.length);
      if (tag === 'begin') {
        begun = true;
        list.length = 0;
        current = undefined;
        continue;
      }
      if (!begun) continue;
      close();
      if (tag === 'end') {
        complete = true;
        break;
      }
      current = { tag: tag.split(':'), lines: [] };
    } else if (current) {
      current.lines.push(line);
    }
  }
  close();
  if (!begun) {
    const said = stderr.trim() ? ` It printed on stderr: ${excerptOf(stderr)}.` : '';
    throw new RemoteOutputError(
      `The remote command for ${what} did not run: none of its output markers came back (a login script that exits ` +
        `or fails, or a shell that is not bash?).${said} Output: ${excerptOf(stdout)}`,
      excerptOf(stdout),
    );
  }
  return {
    list,
    complete,
    first: (name) => list.find((s) => s.tag[0] === name),
    all: (name) => list.filter((s) => s.tag[0] === name),
  };
}

/** The runtime's JSON document inside `text`, or undefined when there is none. Throws when it is not JSON. */
export function runtimeDocument(text: string, what: string): Record<string, unknown> | undefined {
  const begin = text.lastIndexOf(`${RUNTIME_BEGIN}\n`);
  if (begin < 0) return undefined;
  const from = begin + RUNTIME_BEGIN.length + 1;
  const end = text.indexOf(`\n${RUNTIME_END}`, from);
  if (end < 0) {
    throw new RemoteOutputError(`The output of ${what} was cut short (no ${RUNTIME_END} line): ${excerptOf(text.slice(begin))}`, excerptOf(text));
  }
  const body = text.slice(from, end);
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (e) {
    throw new RemoteOutputError(`The output of ${what} is not a JSON document: ${(e as Error).message}; got ${excerptOf(body)}`, excerptOf(body), { cause: e });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new RemoteOutputError(`The output of ${what} is not a JSON object: ${excerptOf(body)}`, excerptOf(body));
  }
  return doc as Record<string, unknown>;
}

/** Like runtimeDocument, but a missing document is an error that quotes what came instead. */
export function requireRuntimeDocument(text: string, what: string): Record<string, unknown> {
  const doc = runtimeDocument(text, what);
  if (!doc) {
    throw new RemoteOutputError(`${what} printed no result document (${RUNTIME_BEGIN} … ${RUNTIME_END}); it printed: ${excerptOf(text)}`, excerptOf(text));
  }
  return doc;
}
