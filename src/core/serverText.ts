// Text that came from the remote side (qsub's stderr, qstat's comment or job name, an sshd prompt) may carry
// terminal control sequences: ESC[2J clears the user's screen, an OSC sequence retitles the window or writes the
// clipboard, a lone CR overwrites what was printed. As OpenSSH does for server strings, every such text is made
// inert before it reaches a terminal, a notification, a tree item, a log line or an output channel: each control
// character becomes a visible escape, so nothing is hidden and nothing is interpreted.

export interface NeutralizeOptions {
  /** Keep \n (and \r\n, as \n) and \t: for text whose lines are meant as lines. Default true. */
  multiline?: boolean;
}

// C0 controls, DEL, C1 controls, and the Unicode bidirectional overrides/isolates that reorder what is shown.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\u001b': '\\e', '\r': '\\r', '\n': '\\n', '\t': '\\t', '\u0000': '\\0' };

function escape(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  const code = ch.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `text` with every control character shown as an escape (`\e`, `\r`, `\x07`, `\u009b`, ...). */
export function neutralize(text: string, options: NeutralizeOptions = {}): string {
  const multiline = options.multiline ?? true;
  const source = multiline ? text.replace(/\r\n/g, '\n') : text;
  return source.replace(CONTROLS, (ch) => (multiline && (ch === '\n' || ch === '\t') ? ch : escape(ch)));
}

/** For one-line places (tree labels, descriptions, status bar): newlines and tabs become escapes too. */
export function neutralizeLine(text: string): string {
  return neutralize(text, { multiline: false });
}
