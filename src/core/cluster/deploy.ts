// Puts this build's runtime in ~/.gadi-dask/runtime/<version>/ on the cluster (runtime/README.md, "Deploying"):
// one exec asks install.sh (sent as text, nothing uploaded yet) whether that exact hash is installed; only when it is
// not, the archive is uploaded (atomically, by the transport) and install.sh installs it under its lock.
import { shellJoin } from '../remote/shellQuote';
import type { Transport } from '../remote/transport';
import { DeployError, RemoteOutputError } from './errors';
import { REMOTE_ROOT, runtimeDir, shellPath } from './names';
import { excerptOf, requireRuntimeDocument } from './output';
import { checkDoc, installerDocSchema } from './runtimeDocs';
import { loadRuntimeBundle, type RuntimeBundle } from './runtimeBundle';

export interface DeployOptions {
  bundle?: RuntimeBundle;
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
}

export interface DeployResult {
  version: string;
  hash: string;
  /** Where it is installed, as the cluster spells it (absolute). */
  path: string;
  /** False when the check found this exact runtime installed: nothing was sent. */
  uploaded: boolean;
  /** up-to-date: found installed; installed: unpacked now; already-installed: another client installed it meanwhile. */
  action: 'up-to-date' | 'installed' | 'already-installed';
  /** An older copy of the same version was replaced. */
  replaced: boolean;
  /** Bytes uploaded (0 when up to date). */
  uploadBytes: number;
}

const CHECK_TIMEOUT_MS = 60_000;
// install.sh waits up to 60 s for its lock, then unpacks and hashes.
const INSTALL_TIMEOUT_MS = 180_000;

// What to do about each of install.sh's error codes.
const ADVICE: Readonly<Record<string, string>> = {
  'missing-tool': 'Ask the site to provide it, or deploy from a machine where it is on PATH in a login shell.',
  'lock-timeout': 'Another client is installing the runtime right now; try again in a minute. If none is, remove ~/.gadi-dask/install.lock on the cluster.',
  'hash-mismatch': 'The upload arrived incomplete or changed on the way; try again.',
  'bad-archive': 'The archive could not be unpacked safely; try again, and report it if it persists.',
  io: 'Check that your home directory on the cluster is writable and not over its quota (`lquota` on Gadi).',
  'no-archive': 'The upload did not arrive where expected; try again.',
};

/** `archiveWord` is already a shell word (shellPath), so that `~/` expands on the cluster. */
function installerCommand(bundle: RuntimeBundle, args: readonly string[], archiveWord?: string): string {
  const command = shellJoin(['sh', '-c', bundle.installScript, 'gadi-dask-install', ...args]);
  return archiveWord === undefined ? command : `${command} ${archiveWord}`;
}

interface InstallerCall {
  args: readonly string[];
  archiveWord?: string;
  what: string;
  timeoutMs: number;
}

async function runInstaller(transport: Transport, bundle: RuntimeBundle, call: InstallerCall, signal?: AbortSignal) {
  const { what } = call;
  const r = await transport.exec(installerCommand(bundle, call.args, call.archiveWord), { timeoutMs: call.timeoutMs, signal });
  let raw: Record<string, unknown>;
  try {
    raw = requireRuntimeDocument(r.stdout, what);
  } catch (e) {
    if (!(e instanceof RemoteOutputError)) throw e;
    throw new RemoteOutputError(`${e.message}${r.stderr.trim() ? `; stderr: ${excerptOf(r.stderr)}` : ''} (exit status ${r.code})`, e.excerpt, { cause: e });
  }
  const doc = checkDoc(installerDocSchema, raw, what);
  if (!doc.ok) {
    throw new DeployError(`Installing the gadi-dask runtime on ${transport.host} failed (${doc.code}): ${doc.error}. ${ADVICE[doc.code] ?? ''}`.trim(), doc.code);
  }
  return doc;
}

/** Installs the runtime unless that exact version and hash are there already. */
export async function deployRuntime(transport: Transport, options: DeployOptions = {}): Promise<DeployResult> {
  const bundle = options.bundle ?? loadRuntimeBundle();
  const progress = options.onProgress ?? (() => undefined);
  const { version, hash } = bundle;
  progress(`Checking the gadi-dask runtime ${version} on ${transport.host}`);
  const check = await runInstaller(transport, bundle, {
    args: ['check', version, hash], what: 'the runtime check (install.sh check)', timeoutMs: CHECK_TIMEOUT_MS,
  }, options.signal);
  if (check.installed === true) {
    return { version, hash, path: check.path ?? runtimeDir(version), uploaded: false, action: 'up-to-date', replaced: false, uploadBytes: 0 };
  }
  const archive = bundle.archive();
  const remote = `${REMOTE_ROOT}/runtime/.upload-${version}-${hash.slice(0, 12)}.tar.gz`;
  progress(`Uploading the gadi-dask runtime ${version} (${Math.ceil(archive.length / 1024)} KiB) to ${transport.host}`);
  options.signal?.throwIfAborted();
  await transport.upload(archive, remote, 0o600);
  progress(`Installing the gadi-dask runtime ${version} on ${transport.host}`);
  const done = await runInstaller(transport, bundle, {
    args: ['install', version, hash], archiveWord: shellPath(remote),
    what: 'the runtime installation (install.sh install)', timeoutMs: INSTALL_TIMEOUT_MS,
  }, options.signal);
  return {
    version,
    hash,
    path: done.path ?? runtimeDir(version),
    uploaded: true,
    action: done.action === 'already-installed' ? 'already-installed' : 'installed',
    replaced: done.replaced === true,
    uploadBytes: archive.length,
  };
}
