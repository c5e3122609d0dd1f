// What users type into the Scale Cluster and Adapt Cluster prompts, read as jobs, workers or adaptive bounds. The job
// ceiling is the cluster config's (core's ceiling.ts), checked by the commands.
import type { ScaleRequest } from '../../core/cluster';

/** "4" is 4 jobs, "16w" or "16 workers" is 16 workers; undefined when it is neither. */
export function parseSize(text: string): ScaleRequest | undefined {
  const m = /^\s*(\d{1,5})\s*(w|workers?|j|jobs?)?\s*$/i.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  if (m[2] && /^w/i.test(m[2])) return { workers: n };
  return { jobs: n };
}

/** "0-4", "0 4", "2..8" → bounds; "off" → off. */
export function parseBounds(text: string): { minimum: number; maximum: number } | 'off' | undefined {
  if (/^\s*off\s*$/i.test(text)) return 'off';
  const m = /^\s*(\d{1,4})\s*(?:-|–|\.\.|\s|to)\s*(\d{1,4})\s*$/i.exec(text);
  if (!m) return undefined;
  const minimum = Number(m[1]);
  const maximum = Number(m[2]);
  return maximum >= minimum ? { minimum, maximum } : undefined;
}
