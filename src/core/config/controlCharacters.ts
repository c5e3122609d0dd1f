// A control character in a config value reaches a job script or a command line as it is: a newline in `queue`
// ends the `#PBS -q` line and qsub silently stops reading directives after the next non-directive line (the job
// then runs without its walltime); a CR or NUL is cut differently by PBS and bash; ESC sequences end up in logs
// and terminals. No value has a use for one, so each is an error, shown escaped. A tab is whitespace to both bash
// and qsub, and is allowed.
import { visit } from 'yaml';
import { neutralizeLine } from '../serverText';
import type { Finding } from './diagnostics';
import type { ConfigDocument } from './document';

// C0 but TAB, DEL, C1, and U+2028/U+2029 (line breaks to some readers of the script).
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/;

const NAMES: Record<string, string> = { '\n': 'a newline', '\r': 'a carriage return', '\u0000': 'a NUL byte', '\u001b': 'an escape (ESC)' };

/** The first control character in `text`, described; undefined when there is none. */
export function controlCharacterIn(text: string): string | undefined {
  const m = CONTROL.exec(text);
  if (!m) return undefined;
  const ch = m[0];
  return NAMES[ch] ?? `the control character U+${ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
}

export function controlCharacterFindings(cd: ConfigDocument): Finding[] {
  const findings: Finding[] = [];
  if (!cd.doc) return findings;
  visit(cd.doc, {
    Scalar(key, node) {
      if (typeof node.value !== 'string' || !node.range) return;
      const what = controlCharacterIn(node.value);
      if (!what) return;
      const isKey = key === 'key';
      findings.push({
        code: 'schema/control-character',
        range: { start: node.range[0], end: node.range[1] },
        message: `This ${isKey ? 'key' : 'value'} holds ${what}: "${neutralizeLine(node.value)}". Job scripts and command lines ` +
          'take values literally: a newline, for one, ends a #PBS directive, and qsub then ignores the directives after it. Remove it.',
      });
    },
  });
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
 * that holds a control character; `key` names where it is, as the config spells it.
 */
export function refuseControlCharacters(value: unknown, key: string): void {
  if (typeof value === 'string') {
    const what = controlCharacterIn(value);
    if (what) throw new ControlCharacterError(key, value, what);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => refuseControlCharacters(v, `${key}[${i}]`));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) refuseControlCharacters(v, key ? `${key}.${k}` : k);
  }
}
