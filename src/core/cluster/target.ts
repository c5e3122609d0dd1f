// The cluster's target as its controller holds it, in words for the tree, the status bar and `status`:
// "holding 4 jobs: 4 running · 1 replacement queued · next expiry 11:52", and why it stopped holding when it did.
import type { AdaptiveStatus } from './runtimeDocs';

export interface TargetSummary {
  /** The target and where the cluster stands against it: "holding 4 jobs: 4 running · 1 replacement queued · …". */
  line: string;
  /** The same for the status bar: "4/4 jobs · 1 replacement queued · next expiry 11:52". */
  short: string;
  /** The controller stopped submitting (failed starts, refused qsubs): why, with the job's error output. */
  givenUp?: { reason: string; errorText?: string };
  /** The last error of the controller while it still tries. */
  error?: string;
}

/** `clock` formats the next expiry (local time in the front ends, so a user reads it against their watch). */
export function targetSummary(a: AdaptiveStatus | null | undefined, clock: (at: Date) => string): TargetSummary | undefined {
  if (!a?.enabled) return undefined;
  const jobs = (n: number) => `${n} job${n === 1 ? '' : 's'}`;
  const running = a.running ?? 0;
  const rest: string[] = [];
  const replacements = a.replacementsQueued ?? 0;
  const other = (a.queued ?? 0) - replacements;
  if (other > 0) rest.push(`${other} queued`);
  if (replacements) rest.push(`${replacements} replacement${replacements === 1 ? '' : 's'} queued`);
  const expiry = a.nextExpiry ? new Date(a.nextExpiry) : undefined;
  if (expiry && !Number.isNaN(expiry.getTime())) rest.push(`next expiry ${clock(expiry)}`);
  if (a.givenUp) rest.push('stopped replacing jobs');
  const range = `${a.min ?? 0}–${a.max ?? '?'}`;
  const line = [`${a.hold ? `holding ${jobs(a.min ?? 0)}` : `adaptive ${range} jobs`}: ${running} running`, ...rest].join(' · ');
  const short = [a.hold ? `${running}/${jobs(a.min ?? 0)}` : `${jobs(running)} (adaptive ${range})`, ...rest].join(' · ');
  const summary: TargetSummary = { line, short };
  if (a.givenUp) summary.givenUp = { reason: a.givenUp.reason, ...(a.givenUp.errorText ? { errorText: a.givenUp.errorText } : {}) };
  else if (a.error) summary.error = a.error;
  return summary;
}

/** Hours and minutes, as a status line shows a time of day. */
export function clockTime(at: Date): string {
  return at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}
