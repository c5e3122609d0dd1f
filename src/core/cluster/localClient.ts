// A Python on this machine as a client of the cluster: the scheduler's port forwarded to 127.0.0.1 over the same
// connection, the cluster's certificate and key copied into private local files, and the snippet that connects.
// Only the scheduler is reachable through the tunnel, so everything must go through it, which is distributed's
// default; `direct_to_workers=True` would try the workers' own addresses, which this machine cannot reach.
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ForwardHandle } from '../remote/transport';
import type { Cluster } from './cluster';
import { SchedulerNotRunningError } from './errors';
import { tlsEnabled } from './tls';

export interface LocalClientOptions {
  /** A private directory of this program's (the editor's global storage, or a temporary one) for the key files. */
  keyDir: string;
  /** The local port (default any free one). */
  localPort?: number;
  /** The local Python whose `distributed` is compared with the scheduler's (default python3). */
  python?: string;
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
}

export interface LocalClient {
  /** `tls://127.0.0.1:<port>` (or tcp:// for a cluster without TLS). */
  address: string;
  /** The scheduler's own address, on the cluster's network. */
  remoteAddress: string;
  forward: ForwardHandle;
  /** The certificate and key files written here (absent without TLS). */
  files?: { cert: string; key: string };
  snippet: string;
  versions: VersionCheck;
  /** What works through the tunnel and what cannot, in one sentence for the user. */
  advice: string;
  /** Closes the tunnel and removes the key files. */
  close(): Promise<void>;
}

export interface VersionCheck {
  local?: string;
  scheduler?: string;
  /** Set when the versions differ or the local one could not be read. */
  warning?: string;
}

export const THROUGH_THE_TUNNEL =
  'Everything goes through the scheduler (distributed\'s default: submit, map, compute, gather, scatter, run); ' +
  'direct_to_workers=True cannot work from here, since only the scheduler is reachable through the tunnel.';

/** Sets up the forward, copies the keys into private files and returns the snippet that connects. */
export async function connectLocalClient(cluster: Cluster, options: LocalClientOptions): Promise<LocalClient> {
  const say = options.onProgress ?? (() => undefined);
  const snap = await cluster.status({ signal: options.signal });
  const remoteAddress = snap.scheduler.state === 'running' ? snap.scheduler.address : undefined;
  if (!remoteAddress) {
    throw new SchedulerNotRunningError(`Cluster ${cluster.name} on ${cluster.transport.host} has no running scheduler` +
      `${snap.scheduler.problem ? ` (${snap.scheduler.problem})` : ` (${snap.scheduler.state})`}: start it with up or scale first.`);
  }
  const { scheme, host, port } = splitAddress(remoteAddress);
  const tls = scheme === 'tls';
  if (tlsEnabled(cluster.config) !== tls) say(`The scheduler listens on ${scheme}:// although the config says TLS is ${tls ? 'off' : 'on'}; connecting as it listens.`);
  // The keys first: the cluster renews them only when a new scheduler starts, and this one answered just now.
  const key = tls ? await Promise.all([cluster.transport.readFile(cluster.paths.tlsCert), cluster.transport.readFile(cluster.paths.tlsKey)]) : undefined;
  options.signal?.throwIfAborted();
  const files = key ? writeKeyFiles(options.keyDir, `${cluster.transport.host}-${cluster.name}`, key[0], key[1]) : undefined;
  let forward: ForwardHandle;
  try {
    forward = await cluster.transport.forward(host, port, options.localPort);
  } catch (e) {
    if (files) removeKeyFiles(files);
    throw e;
  }
  say(`Forwarding 127.0.0.1:${forward.localPort} to the scheduler at ${host}:${port} on ${cluster.transport.host}`);
  const address = `${scheme}://127.0.0.1:${forward.localPort}`;
  const versions = compareVersions(await localDistributedVersion(options.python ?? 'python3'), snap.scheduler.details?.distributedVersion ?? undefined,
    options.python ?? 'python3');
  return {
    address, remoteAddress, forward, files, versions, advice: THROUGH_THE_TUNNEL,
    snippet: localClientSnippet({ address, cluster: cluster.name, host: cluster.transport.host, files }),
    close: async () => {
      await forward.close();
      if (files) removeKeyFiles(files);
    },
  };
}

export function splitAddress(address: string): { scheme: string; host: string; port: number } {
  const m = /^(tls|tcp):\/\/(\[[^\]]+\]|[^:/]+):(\d+)\/?$/.exec(address);
  if (!m) throw new SchedulerNotRunningError(`The scheduler's address "${address}" is not a tcp:// or tls:// host and port that a tunnel can reach.`);
  return { scheme: m[1], host: m[2].replace(/^\[|\]$/g, ''), port: Number(m[3]) };
}

/** Python string literals: JSON's escapes are Python's for every path a file system gives. */
const py = (text: string) => JSON.stringify(text);

export function localClientSnippet(o: { address: string; cluster: string; host: string; files?: { cert: string; key: string } }): string {
  const lines = [
    o.files ? 'from dask.distributed import Client, Security' : 'from dask.distributed import Client',
    '',
    `# Dask cluster ${o.cluster} on ${o.host}, through the SSH tunnel on ${o.address.replace(/^\w+:\/\//, '')} (open while the connection lasts).`,
    '# Everything goes through the scheduler (the default); direct_to_workers=True cannot reach the workers from here.',
  ];
  if (!o.files) return [...lines, `client = Client(${py(o.address)})`, ''].join('\n');
  return [
    ...lines,
    '# The cluster\'s own certificate (its CA) and key, copied into files only you can read; new ones with each new scheduler.',
    `cert = ${py(o.files.cert)}`,
    `key = ${py(o.files.key)}`,
    'security = Security(tls_ca_file=cert, tls_client_cert=cert, tls_client_key=key, require_encryption=True)',
    `client = Client(${py(o.address)}, security=security)`,
    '',
  ].join('\n');
}

/** As Dask's own check does on connect: any difference in distributed's version is a mismatch worth a warning. */
export function compareVersions(local: { version?: string; error?: string }, scheduler: string | undefined, python: string): VersionCheck {
  if (local.version === undefined) {
    return {
      scheduler,
      warning: `The local Python (${python}) cannot import distributed${local.error ? ` (${local.error})` : ''}: install ` +
        `distributed${scheduler ? `==${scheduler}` : ''} there to use this client.`,
    };
  }
  if (scheduler === undefined || local.version === scheduler) return { local: local.version, scheduler };
  return {
    local: local.version, scheduler,
    warning: `Mismatched versions found: distributed ${local.version} here (${python}), ${scheduler} on the scheduler. Dask warns ` +
      `the same when the client connects, and a client of another version may fail to talk to the scheduler: install ` +
      `distributed==${scheduler} here.`,
  };
}

/** `distributed.__version__` of a local Python, or why it could not be read. */
export function localDistributedVersion(python: string, timeoutMs = 30_000): Promise<{ version?: string; error?: string }> {
  return new Promise((resolve) => {
    execFile(python, ['-c', 'import distributed; print(distributed.__version__)'], { timeout: timeoutMs, windowsHide: true }, (err, stdout, stderr) => {
      const version = stdout.trim().split('\n').at(-1)?.trim();
      if (!err && version) return resolve({ version });
      const why = stderr.trim().split('\n').at(-1) || (err as NodeJS.ErrnoException | null)?.code || err?.message || 'no output';
      resolve({ error: String(why) });
    });
  });
}

/** Writes both files 0600 from the first byte, in a 0700 directory, and replaces any older copy whole. */
export function writeKeyFiles(dir: string, label: string, cert: Buffer, key: Buffer): { cert: string; key: string } {
  const base = join(dir, 'client-keys', label.replace(/[^A-Za-z0-9._-]/g, '_'));
  mkdirSync(base, { recursive: true, mode: 0o700 });
  chmodSync(base, 0o700);
  const write = (name: string, data: Buffer) => {
    const path = join(base, name);
    const tmp = `${path}.tmp-${process.pid}`;
    rmSync(tmp, { force: true });
    writeFileSync(tmp, data, { mode: 0o600, flag: 'wx' });
    renameSync(tmp, path);
    return path;
  };
  // The key first: whoever sees the new certificate finds its key already in place.
  const keyPath = write('tls-key.pem', key);
  return { cert: write('tls-cert.pem', cert), key: keyPath };
}

function removeKeyFiles(files: { cert: string; key: string }): void {
  for (const f of [files.key, files.cert]) rmSync(f, { force: true });
}
