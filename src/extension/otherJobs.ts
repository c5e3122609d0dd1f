// The user's PBS jobs that belong to no cluster of this window, for the "Other PBS jobs" node, fetched only when
// that node is open (NCI asks for gentle polling). One exec: `qstat -w -u` lists the user's job ids (qstat shows
// -u only in its table layout, whatever -f says), then `qstat -f -F json` describes just those. Output is read
// after a marker line because login shells may print banners first.
import { randomBytes } from 'node:crypto';
import { parseQstatJson, type PbsJob } from '../core/pbs/qstat';
import { shellQuote } from '../core/remote/shellQuote';
import type { Transport } from '../core/remote/transport';

const TIMEOUT_MS = 45_000;

export async function userJobs(transport: Transport, signal?: AbortSignal): Promise<PbsJob[]> {
  const marker = `gadi-dask-jobs-${randomBytes(6).toString('hex')}`;
  const command = [
    `printf '%s\\n' ${shellQuote(marker)}`,
    `ids=$(set -o pipefail; qstat -w -u "$(id -un)" | awk '$1 ~ /^[0-9]+(\\[[0-9]*\\])?\\.[A-Za-z0-9._-]+$/ { print $1 }')`,
    'rc=$?',
    'if [ -n "$ids" ]; then qstat -f -F json $ids; rc=$?; fi',
    `printf '\\n%s%s\\n' ${shellQuote(`${marker}:rc:`)} "$rc"`,
  ].join('\n');
  const r = await transport.exec(command, { timeoutMs: TIMEOUT_MS, signal });
  const start = r.stdout.indexOf(`${marker}\n`);
  const end = r.stdout.lastIndexOf(`${marker}:rc:`);
  if (start < 0 || end < 0) {
    throw new Error(`Listing your PBS jobs on ${transport.host} failed: the command did not run (${(r.stderr || r.stdout).trim().slice(0, 300) || `exit status ${r.code}`}).`);
  }
  const rc = Number(r.stdout.slice(end + marker.length + 4).trim().split('\n')[0]);
  const body = r.stdout.slice(start + marker.length + 1, end).trim();
  if (rc !== 0 && !body) {
    const why = rc === 127 ? 'qstat is not on PATH in a login shell' : `qstat exited with status ${rc}`;
    throw new Error(`Listing your PBS jobs on ${transport.host} failed: ${why}${r.stderr.trim() ? `: ${r.stderr.trim().slice(0, 300)}` : ''}.`);
  }
  return body ? parseQstatJson(body).jobs : [];
}
