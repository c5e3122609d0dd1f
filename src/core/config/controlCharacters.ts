// A control character in a config value reaches a job script or a command line as it is: a newline in `queue`
// ends the `#PBS -q` line and qsub silently stops reading directives after the next non-directive line (the job
// then runs without its walltime); a CR or NUL is cut differently by PBS and bash; ESC sequences end up in logs
// and terminals. No value has a use for one, so each is an error, shown escaped. A tab is whitespace to both bash
// and qsub, and is allowed. The one place a newline means what the user wrote is an item of a list dask-jobqueue
// writes as lines of shell (the prologue and epilogue): there it is a line break, as in a YAML block scalar.
import { isAlias, isMap, isScalar, isSeq, type Node as YamlNode } from 'yaml';
import { neutralizeLine } from '../serverText';
import type { Finding } from './diagnostics';
import type { ConfigDocument } from './document';
import { VALUE_KEY } from './pyyaml';
import { SCRIPT_LINE_KEYS } from './schema';

// C0 but TAB, DEL, C1, and U+2028/U+2029 (line breaks to some readers of the script).
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/;
// The same without LF.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_BUT_NEWLINE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/;

const NAMES: Record<string, string> = { '\n': 'a newline', '\r': 'a carriage return', '\u0000': 'a NUL byte', '\u001b': 'an escape (ESC)' };

/** True for `jobqueue.pbs`'s keys whose list items are lines of shell, spelled with `-` or `_`. */
export function isScriptLineKey(key: string): boolean {
  return SCRIPT_LINE_KEYS.includes(key.replace(/_/g, '-'));
}

/** The first control character in `text`, described; undefined when there is none. `lines`: newlines allowed. */
export function controlCharacterIn(text: string, lines = false): string | undefined {
  const m = (lines ? CONTROL_BUT_NEWLINE : CONTROL).exec(text);
  if (!m) return undefined;
  const ch = m[0];
  return NAMES[ch] ?? `the control character U+${ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Where a node sits, as far as newlines go: the value of one of SCRIPT_LINE_KEYS (in jobqueue.pbs, or in a mapping
 * merged or aliased into it), an item of that list, or anywhere else.
 */
type Place = 'line-list' | 'line' | 'other';

export function controlCharacterFindings(cd: ConfigDocument): Finding[] {
  const findings: Finding[] = [];
  const doc = cd.doc;
  if (!doc) return findings;
  // A node is checked once per place it is reached from (aliases and merge keys followed), so a block scalar used
  // both as a prologue line and, through an alias, as a queue is still refused; there are three places, so the
  // walk stays linear however the aliases nest.
  const seen = new Map<YamlNode, Set<Place>>();
  const check = (node: YamlNode, isKey: boolean, place: Place) => {
    if (!isScalar(node) || typeof node.value !== 'string' || !node.range) return;
    const what = controlCharacterIn(node.value, place === 'line');
    if (!what) return;
    findings.push({
      code: 'schema/control-character',
      range: { start: node.range[0], end: node.range[1] },
      message: `This ${isKey ? 'key' : 'value'} holds ${what}: "${neutralizeLine(node.value)}". Job scripts and command lines ` +
        'take values literally: a newline, for one, ends a #PBS directive, and qsub then ignores the directives after it. ' +
        `Remove it${what === 'a newline' ? ` (only the items of ${SCRIPT_LINE_KEYS.join(', ')} may span lines)` : ''}.`,
    });
  };
  const stack: Array<[unknown, Place]> = [[doc.contents, 'other']];
  while (stack.length) {
    const [raw, place] = stack.pop() as [unknown, Place];
    const node = isAlias(raw) ? raw.resolve(doc) : raw;
    if (!node || typeof node !== 'object') continue;
    const at = seen.get(node as YamlNode) ?? new Set<Place>();
    if (at.has(place)) continue;
    seen.set(node as YamlNode, at.add(place));
    if (isScalar(node)) {
      check(node, false, place);
    } else if (isSeq(node)) {
      for (const item of node.items) stack.push([item, place === 'line-list' ? 'line' : 'other']);
    } else if (isMap(node)) {
      for (const pair of node.items) {
        const key = pair.key;
        if (isScalar(key) && typeof key.value === 'symbol' && key.value !== VALUE_KEY) {
          // A merge key: its mappings' pairs count as this mapping's own.
          const merged = isAlias(pair.value) ? pair.value.resolve(doc) : pair.value;
          for (const m of isSeq(merged) ? merged.items : [merged]) stack.push([m, place]);
          continue;
        }
        if (isScalar(key)) check(key, true, 'other');
        else if (key) stack.push([key, 'other']);
        stack.push([pair.value, isScalar(key) && typeof key.value === 'string' && isScriptLineKey(key.value) ? 'line-list' : 'other']);
      }
    }
  }
  return findings;
}

/** A value with a control character reached a renderer: the script is not written. */
export class ControlCharacterError extends Error {
  constructor(readonly key: string, value: string, what: string) {
    super(`${key} holds ${what} ("${neutralizeLine(value)}"), which would corrupt the job script; no script was written. Remove it from the config.`);
    this.name = 'ControlCharacterError';
  }
}

/**
 * Defence in depth for renderers: throws ControlCharacterError for the first string (at any depth) of `value`
 * that holds a control character; `key` names where it is, as the config spells it. Items of the line lists of
 * `jobqueue.pbs` may hold newlines.
 */
export function refuseControlCharacters(value: unknown, key: string, lines = false): void {
  if (typeof value === 'string') {
    const what = controlCharacterIn(value, lines);
    if (what) throw new ControlCharacterError(key, value, what);
  } else if (Array.isArray(value)) {
    const dot = key.lastIndexOf('.');
    const itemsAreLines = key.slice(0, dot) === 'jobqueue.pbs' && isScriptLineKey(key.slice(dot + 1));
    value.forEach((v, i) => refuseControlCharacters(v, `${key}[${i}]`, itemsAreLines));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) refuseControlCharacters(v, key ? `${key}.${k}` : k);
  }
}
