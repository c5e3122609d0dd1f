import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionLimiter } from '../../src/core/remote/sessionLimiter';
import { preferHostKeyAlgorithms } from '../../src/core/remote/sshHop';

test('never more than the limit at once; waiters are served in order', async () => {
  const limiter = new SessionLimiter(3);
  let active = 0;
  let peak = 0;
  const order: number[] = [];
  await Promise.all(
    Array.from({ length: 12 }, async (_, i) => {
      const release = await limiter.acquire();
      order.push(i);
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 5));
      active--;
      release();
    }),
  );
  assert.equal(peak, 3);
  assert.deepEqual(order, [...order].sort((a, b) => a - b));
  assert.equal(limiter.inUse, 0);
});

test('releasing twice frees one slot, not two', async () => {
  const limiter = new SessionLimiter(1);
  const release = await limiter.acquire();
  release();
  release();
  const r2 = await limiter.acquire();
  assert.equal(limiter.inUse, 1);
  let third = false;
  void limiter.acquire().then(() => (third = true));
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(third, false);
  r2();
});

test('an aborted waiter leaves the queue with the abort reason', async () => {
  const limiter = new SessionLimiter(1);
  const held = await limiter.acquire();
  const ac = new AbortController();
  const waiting = limiter.acquire(ac.signal);
  assert.equal(limiter.queued, 1);
  ac.abort(new Error('gave up'));
  await assert.rejects(waiting, /gave up/);
  assert.equal(limiter.queued, 0);
  held();
  assert.equal(limiter.inUse, 0);
});

test('lowering holds back to what the server accepted, then returns to the configured limit', async () => {
  const limiter = new SessionLimiter(4);
  limiter.lower(2, 30);
  assert.equal(limiter.max, 2);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(limiter.max, 4);
  assert.throws(() => new SessionLimiter(0), RangeError);
});

test('host key algorithms put the types already in known_hosts first', () => {
  assert.deepEqual(preferHostKeyAlgorithms(['ssh-rsa']).slice(0, 3), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  assert.equal(preferHostKeyAlgorithms(['ecdsa-sha2-nistp384'])[0], 'ecdsa-sha2-nistp384');
  assert.equal(preferHostKeyAlgorithms([])[0], 'ssh-ed25519');
  assert.equal(new Set(preferHostKeyAlgorithms(['ssh-ed25519', 'ssh-rsa'])).size, preferHostKeyAlgorithms([]).length);
  assert.ok(!preferHostKeyAlgorithms(['ssh-dss']).includes('ssh-dss'), 'only algorithms ssh2 offers by default');
});

test('long-lived holders leave exec at least one slot; past that a spawn is refused at once, not queued', async () => {
  const limiter = new SessionLimiter(3);
  const a = await limiter.acquireLongLived();
  const b = await limiter.acquireLongLived();
  await assert.rejects(limiter.acquireLongLived(), /2 long-running remote commands already hold 2 of the 3 sessions/);
  const exec = await limiter.acquire();
  assert.equal(limiter.inUse, 3, 'the exec got the slot the cap kept free');
  exec();
  a();
  a();
  const c = await limiter.acquireLongLived();
  assert.equal(limiter.inUse, 2, 'a released long-lived slot is free again, once');
  b();
  c();
  assert.equal(limiter.inUse, 0);
  await assert.rejects(new SessionLimiter(1).acquireLongLived(), /0 long-running/, "with one slot, nothing may be held for long");
});
