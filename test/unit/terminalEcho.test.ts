// A passphrase typed the moment its prompt shows is not echoed, on a real pseudo-terminal (script(1)). The prompt is
// larger than every buffer between the terminal and this test, and the test reads nothing until it has typed: the
// CLI is still inside writing the prompt when the keys arrive, the window in which it once left echo on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const CHILD = join(__dirname, '..', 'fixtures', 'askSecretOnTerminal.ts');
const PROMPT_BYTES = 4 << 20;
const SECRET = `typed-${Math.random().toString(36).slice(2)}-secret`;

test('a passphrase typed while its prompt is still being written is read, not echoed', async () => {
  const command = [process.execPath, '--import', 'tsx', CHILD].map((a) => `'${a}'`).join(' ');
  const p = spawn('script', ['-qec', command, '/dev/null'], {
    env: { ...process.env, PROMPT_BYTES: String(PROMPT_BYTES) }, stdio: ['pipe', 'pipe', 'inherit'],
  });
  const chunks: Buffer[] = [];
  const closed = new Promise<number | null>((done) => p.on('close', done));
  // The first bytes of the prompt: the CLI is writing it, and blocks once the pipes and the terminal are full.
  const first = await new Promise<Buffer>((done) => p.stdout.once('data', done));
  chunks.push(first);
  p.stdout.pause();
  await new Promise((r) => setTimeout(r, 500));
  p.stdin.write(`${SECRET}\r`);
  await new Promise((r) => setTimeout(r, 500));
  p.stdout.on('data', (d: Buffer) => chunks.push(d));
  p.stdout.resume();
  const code = await closed;
  const out = Buffer.concat(chunks).toString('utf8');
  assert.equal(code, 0, out.slice(-500));
  assert.ok(out.length > PROMPT_BYTES, `the whole prompt was shown (${out.length} bytes)`);
  assert.match(out, new RegExp(`read ${SECRET.length}\\r?\\n`), `the secret was read: ${out.slice(-200)}`);
  assert.ok(!out.includes(SECRET), `the terminal echoed the secret: …${out.slice(out.indexOf(SECRET) - 40, out.indexOf(SECRET) + 60)}`);
});
