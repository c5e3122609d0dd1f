import { test } from 'node:test';
import assert from 'node:assert/strict';
import { neutralize, neutralizeLine } from '../../src/core/serverText';

test('escape sequences become visible text: no ESC, no C1, no lone CR survives', () => {
  const hostile = 'qsub: \u001b[2J\u001b]0;owned\u0007 done\r\u009b31m\u0000\u007f';
  const safe = neutralize(hostile);
  assert.equal(safe, 'qsub: \\e[2J\\e]0;owned\\x07 done\\r\\x9b31m\\0\\x7f');
  assert.ok(![...safe].some((ch) => ch.charCodeAt(0) < 0x20 || (ch.charCodeAt(0) >= 0x7f && ch.charCodeAt(0) <= 0x9f)));
});

test('newlines and tabs stay where lines are meant (CRLF becomes LF); one-line places escape them too', () => {
  assert.equal(neutralize('a\tb\r\nc\n'), 'a\tb\nc\n');
  assert.equal(neutralizeLine('a\tb\nc'), 'a\\tb\\nc');
});

test('plain text, unicode and backslashes pass unchanged; bidi overrides are shown; applying twice changes nothing', () => {
  for (const s of ['gadi-dask 1.0', 'Ωmega – ✓ 日本', 'C:\\path\\x41', '']) assert.equal(neutralize(s), s);
  assert.equal(neutralize('a\u202eb'), 'a\\u202eb');
  const once = neutralize('x\u001b[1m\u0085y');
  assert.equal(neutralize(once), once);
});

test('every code point below 0x20 (but LF and TAB), DEL and 0x80-0x9f is escaped', () => {
  for (let c = 0; c < 0xa0; c++) {
    const ch = String.fromCharCode(c);
    const control = c < 0x20 || (c >= 0x7f && c <= 0x9f);
    const kept = ch === '\n' || ch === '\t';
    assert.equal(neutralize(ch) === ch, !control || kept, `U+${c.toString(16)}`);
  }
});
