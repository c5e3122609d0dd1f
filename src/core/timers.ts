// Node's timers hold a signed 32-bit millisecond count: a longer delay prints TimeoutOverflowWarning and fires
// after 1 ms. Every delay computed from user input or configuration goes through here first.

/** The longest delay setTimeout honours: about 24.8 days. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** `ms` as setTimeout can take it: NaN and negatives become 0, anything too long becomes the longest delay. */
export function clampTimerMs(ms: number): number {
  if (!(ms > 0)) return 0;
  return Math.min(Math.ceil(ms), MAX_TIMER_MS);
}

/** setTimeout with the delay clamped. */
export function setSafeTimeout(fn: () => void, ms: number): NodeJS.Timeout {
  return setTimeout(fn, clampTimerMs(ms));
}

/** A promise that resolves after `ms` (clamped). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, clampTimerMs(ms)));
}
