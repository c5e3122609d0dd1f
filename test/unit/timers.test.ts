import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { clampTimerMs, MAX_TIMER_MS, setSafeTimeout } from '../../src/core/timers';

test('delays are clamped to what setTimeout honours; nonsense becomes 0', () => {
  assert.equal(clampTimerMs(1000), 1000);
  assert.equal(clampTimerMs(1.2), 2);
  assert.equal(clampTimerMs(1e15), MAX_TIMER_MS);
  assert.equal(clampTimerMs(Infinity), MAX_TIMER_MS);
  assert.equal(clampTimerMs(-5), 0);
  assert.equal(clampTimerMs(Number.NaN), 0);
});

test('a huge delay neither fires early nor prints TimeoutOverflowWarning', async () => {
  let fired = false;
  const t = setSafeTimeout(() => (fired = true), 1e12);
  await new Promise((r) => setTimeout(r, 30));
  clearTimeout(t);
  assert.equal(fired, false);
  // Node prints the warning on stderr of the process that armed the timer: look at a fresh one.
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e',
    "const { setSafeTimeout } = require('./src/core/timers'); clearTimeout(setSafeTimeout(() => {}, 1e12));"], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /TimeoutOverflowWarning/);
  const raw = spawnSync(process.execPath, ['-e', 'clearTimeout(setTimeout(() => {}, 1e12))'], { encoding: 'utf8' });
  assert.match(raw.stderr, /TimeoutOverflowWarning/, 'the control: an unclamped delay does warn');
});
