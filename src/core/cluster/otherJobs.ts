// The user's PBS jobs that belong to none of the given clusters, in one exec: `qstat -w -u` lists the user's job ids
// (qstat shows -u only in its table layout, whatever -f says, and PBS has no qselect everywhere), then
// `qstat -f -F json` describes just those. Fetched on demand only: NCI asks for gentle polling.
import { parseQstatJson, QstatParseError, type PbsJob } from '../pbs/qstat';
import { newMarker } from '../pbs/submit';
import { shellQuote } from '../remote/shellQuote';
import type { Transport } from '../remote/transport';
import { PbsUnavailableError, RemoteOutputError } from './errors';
import { excerptOf, parseSections } from './output';

export interface OtherJobsOptions {
  /** Job ids to leave out (the clusters' own jobs). */
  exclude?: Iterable<string>;
  signal?: AbortSignal;
  /** For tests: a fixed marker. */
  marker?: string;
}

const TIMEOUT_MS = 45_000;

/** The script; a job that ends between the two qstats is left out of the second one's answer, not an error. */
export function otherJobsScript(marker: string): string {
  return [
    `gd_m=${shellQuote(marker)}`,
    'gd_mark() { printf \'\\n%s:%s\\n\' "$gd_m" "$1"; }',
    'gd_mark begin',
    'gd_e=$(mktemp 2>/dev/null) || gd_e="${TMPDIR:-/tmp}/gadi-dask-other.$$"',
    'ids=$(set -o pipefail; qstat -w -u "$(id -un)" 2>"$gd_e" | awk \'$1 ~ /^[0-9]+(\\[[0-9]*\\])?\\.[A-Za-z0-9._-]+$/ { print $1 }\')',
    'rc=$?',
    'gd_mark "list:$rc"; cat "$gd_e"; rm -f "$gd_e"',
    'if [ -n "$ids" ]; then gd_mark json; qstat -f -F json $ids 2>/dev/null; fi',
    'gd_mark end',
  ].join('\n');
}

export async function listOtherJobs(transport: Transport, options: OtherJobsOptions = {}): Promise<PbsJob[]> {
  const marker = options.marker ?? newMarker();
  const r = await transport.exec(otherJobsScript(marker), { timeoutMs: TIMEOUT_MS, signal: options.signal });
  const sections = parseSections(r.stdout, marker, `the PBS jobs on ${transport.host}`, r.stderr);
  const list = sections.first('list');
  if (!list || !sections.complete) {
    throw new RemoteOutputError(`Listing your PBS jobs on ${transport.host} stopped before its end.`, excerptOf(r.stdout));
  }
  const rc = Number(list.tag[1]);
  if (rc !== 0) {
    const why = rc === 127 ? 'qstat is not on PATH in a login shell' : `qstat exited with status ${rc}`;
    throw new PbsUnavailableError(`Listing your PBS jobs on ${transport.host} failed: ${why}${list.body ? `: ${excerptOf(list.body, 300)}` : ''}.`, list.body);
  }
  const body = sections.first('json')?.body ?? '';
  let jobs: PbsJob[] = [];
  if (body.trim()) {
    try {
      jobs = parseQstatJson(body).jobs;
    } catch (e) {
      if (!(e instanceof QstatParseError)) throw e;
      throw new RemoteOutputError(`qstat printed output that cannot be read: ${e.message}`, e.excerpt, { cause: e });
    }
  }
  const exclude = new Set(options.exclude ?? []);
  return jobs.filter((j) => !exclude.has(j.id));
}
