import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { shellJoin, shellQuote } from '../../src/core/remote/shellQuote';

// Round-trip through a real shell: whatever the value, bash must read back exactly one word, byte for byte.
function echoThroughBash(values: string[]): string[] {
  const script = `for a in ${values.map(shellQuote).join(' ')}; do printf '%s\\0' "$a"; done`;
  const out = execFileSync('bash', ['-c', script]);
  return out.toString('utf8').split('\0').slice(0, -1);
}

test('hostile strings survive a real shell as exactly one word each', () => {
  const hostile = [
    '', ' ', "'", '"', '\\', '$(touch /tmp/pwned)', '`id`', '; rm -rf ~', 'a b\tc\nd', "it's", "''", '*', '~',
    '-rf', '$HOME', '${IFS}', '!', '#not a comment', '\u00e9\u2603', '\r\n', '&&', '|', '>', '<(x)',
  ];
  assert.deepEqual(echoThroughBash(hostile), hostile);
});

test('property: any NUL-free string round-trips through bash', () => {
  const noNul = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.includes('\0'));
  fc.assert(
    fc.property(fc.array(noNul, { minLength: 1, maxLength: 5 }), (values) => {
      assert.deepEqual(echoThroughBash(values), values);
    }),
    { numRuns: 150 },
  );
});

test('safe words stay readable; everything else is single-quoted', () => {
  assert.equal(shellQuote('qstat'), 'qstat');
  assert.equal(shellQuote('/home/123/abc123/.gadi-dask'), '/home/123/abc123/.gadi-dask');
  assert.equal(shellQuote('depend=after:12.gadi-pbs'), 'depend=after:12.gadi-pbs');
  assert.equal(shellQuote('a b'), "'a b'");
  assert.equal(shellQuote("it's"), "'it'\\''s'");
  assert.equal(shellJoin(['qdel', '1.gadi-pbs', '$(x)']), "qdel 1.gadi-pbs '$(x)'");
});

test('a NUL byte is refused, not silently truncated', () => {
  assert.throws(() => shellQuote('a\0b'), /NUL/);
});
