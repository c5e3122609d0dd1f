// The test run's watch for listeners outside loopback (scripts/listeners.mjs): which of `ss -Hltnp`'s lines count.
import * as assert from 'node:assert/strict';
import { test } from 'node:test';

test('every address that is not loopback counts, with the pids that hold it; loopback in any spelling does not', async () => {
  const { wideListeners } = await import('../../scripts/listeners.mjs');
  const ss = [
    'LISTEN 0 128 127.0.0.1:8787 0.0.0.0:* users:(("python3",pid=11,fd=6))',
    'LISTEN 0 4096 127.0.0.53%lo:53 0.0.0.0:* users:(("systemd-resolve",pid=12,fd=13))',
    'LISTEN 0 128 [::1]:631 [::]:* users:(("cupsd",pid=13,fd=7))',
    'LISTEN 0 128 [::ffff:127.0.0.1]:9000 *:* users:(("node",pid=14,fd=20))',
    'LISTEN 0 128 0.0.0.0:38445 0.0.0.0:* users:(("python3",pid=17020,fd=6))',
    'LISTEN 0 128 [::]:38445 [::]:* users:(("python3",pid=17020,fd=7))',
    'LISTEN 0 128 *:22 *:* users:(("sshd",pid=1,fd=3),("sshd",pid=2,fd=3))',
    'LISTEN 0 128 10.0.0.5:80 0.0.0.0:*',
    '',
  ].join('\n');
  assert.deepEqual(wideListeners(ss), [
    { address: '0.0.0.0:38445', pids: [17020] },
    { address: '[::]:38445', pids: [17020] },
    { address: '*:22', pids: [1, 2] },
    { address: '10.0.0.5:80', pids: [] },
  ]);
});
