// Reading what a runtime command printed (install.sh, run.py): one JSON document between @@GADI_DASK_BEGIN@@ and
// @@GADI_DASK_END@@; anything outside (login banners) is noise. The agent's own answers are framed by protocol.ts.
import { RemoteOutputError } from './errors';

export const RUNTIME_BEGIN = '@@GADI_DASK_BEGIN@@';
export const RUNTIME_END = '@@GADI_DASK_END@@';

export function excerptOf(text: string, max = 240): string {
  const t = text.trim();
  return JSON.stringify(t.length > max ? `${t.slice(0, max / 2)} … ${t.slice(-max / 2)}` : t);
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
