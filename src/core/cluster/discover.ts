// Finding the clusters already on an account when a connection opens: `run.py list` (from the files under
// ~/.gadi-dask/clusters, no network) and each cluster's recorded jobs, in one exec.
import { DEFAULT_PYTHON } from '../pbs/jobScript';
import { shellPath } from './names';
import { RemoteCommandError } from './errors';
import { excerptOf, parseSections, runtimeDocument } from './output';
import { discoverScript } from './remoteScript';
import { checkDoc, listDocSchema, type ListEntry } from './runtimeDocs';
import { loadRuntimeBundle, type RuntimeBundle } from './runtimeBundle';
import { parseJobsFile, type JobRecord } from './snapshot';
import type { ActionOptions } from './cluster';
import type { Transport } from '../remote/transport';

export interface DiscoveredCluster extends ListEntry {
  /** The jobs the cluster's jobs file records (not checked against qstat: status does that). */
  jobs: JobRecord[];
  /** The scheduler file is there and runtime.json says it runs (on a login node: and its process is alive). */
  running: boolean;
}

export interface DiscoverOptions extends ActionOptions {
  /** The python to run `run.py list` with (any python 3 does); default python3. */
  python?: string;
  prologue?: readonly string[];
  runtime?: RuntimeBundle;
}

export async function discoverClusters(transport: Transport, options: DiscoverOptions = {}): Promise<DiscoveredCluster[]> {
  const runtime = options.runtime ?? loadRuntimeBundle();
  const script = discoverScript({
    version: runtime.version, hash: runtime.hash, pythonWord: shellPath(options.python ?? DEFAULT_PYTHON),
    prologue: options.prologue ?? [], client: 'discover', lockWaitSeconds: 0, lockTtlSeconds: 0,
  });
  const r = await transport.exec(script.command, { timeoutMs: 60_000, signal: options.signal });
  const sections = parseSections(r.stdout, script.marker, 'listing the clusters', r.stderr);
  if (sections.first('noruntime')) return [];
  const list = sections.first('list');
  const raw = list ? runtimeDocument(list.body, 'run.py list') : undefined;
  if (!raw) {
    const prologue = sections.first('prologue')?.body.trim();
    throw new RemoteCommandError(
      `Listing the clusters on ${transport.host} failed: ${excerptOf(list?.body ?? r.stdout)}${prologue ? `; the prologue printed ${excerptOf(prologue)}` : ''}`,
      'list');
  }
  const doc = checkDoc(listDocSchema, raw, 'run.py list');
  if (!doc.ok) throw new RemoteCommandError(`Listing the clusters on ${transport.host} failed (${doc.code}): ${doc.error}`, doc.code);
  const jobs = new Map(sections.all('jobs').map((s) => [s.tag[1], parseJobsFile(s.body)]));
  return doc.clusters.map((c) => ({
    ...c,
    jobs: jobs.get(c.name) ?? [],
    running: c.schedulerFile && c.state === 'running' && c.processAlive !== false,
  }));
}
