// PBS writes `-F json` by printing attribute values as they are, so real output can break JSON: raw tabs and
// newlines inside strings (Variable_List, comments), backslashes that are not JSON escapes (`\,` is how PBS escapes a
// comma in Variable_List), quotes inside values, and bare values that look numeric but are not JSON numbers
// (`08`). repairJson rewrites those into valid JSON keeping the text as PBS printed it; it is only tried after
// JSON.parse has failed, so well-formed output never pays for it.

const VALID_ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);
const STRUCTURAL = new Set(['{', '}', '[', ']', ',', ':']);
const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

function isSpace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r';
}

function isHex4(text: string, at: number): boolean {
  return /^[0-9a-fA-F]{4}$/.test(text.slice(at, at + 4));
}

// A quote closes a string when what follows it (after blanks) could follow a JSON string; otherwise PBS printed a
// quote that was part of the value.
function closesString(text: string, at: number): boolean {
  let i = at + 1;
  while (i < text.length && isSpace(text[i])) i++;
  return i >= text.length || STRUCTURAL.has(text[i]);
}

export function repairJson(text: string): string {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      i = copyString(text, i, out);
    } else if (isSpace(c) || STRUCTURAL.has(c)) {
      out.push(c);
      i++;
    } else {
      let j = i;
      while (j < text.length && !isSpace(text[j]) && !STRUCTURAL.has(text[j]) && text[j] !== '"') j++;
      const token = text.slice(i, j);
      const literal = token === 'true' || token === 'false' || token === 'null' || JSON_NUMBER.test(token);
      out.push(literal ? token : JSON.stringify(token));
      i = j;
    }
  }
  return out.join('');
}

// Copies the string starting at the quote at `start`, repaired; returns the index after its closing quote.
function copyString(text: string, start: number, out: string[]): number {
  out.push('"');
  let i = start + 1;
  let run = i; // start of the current run of characters that need no change
  const flush = (end: number) => {
    if (end > run) out.push(text.slice(run, end));
  };
  while (i < text.length) {
    const c = text[i];
    const code = c.charCodeAt(0);
    if (c === '\\') {
      const next = text[i + 1];
      if (next !== undefined && (VALID_ESCAPES.has(next) || (next === 'u' && isHex4(text, i + 2)))) {
        i += 2;
        continue;
      }
      flush(i);
      out.push('\\\\'); // keep the backslash PBS printed, as a character
      i++;
      run = i;
    } else if (c === '"') {
      flush(i);
      if (closesString(text, i)) {
        out.push('"');
        return i + 1;
      }
      out.push('\\"');
      i++;
      run = i;
    } else if (code < 0x20) {
      flush(i);
      out.push(`\\u${code.toString(16).padStart(4, '0')}`);
      i++;
      run = i;
    } else {
      i++;
    }
  }
  flush(i);
  out.push('"'); // unterminated string at the end of the text
  return i;
}
