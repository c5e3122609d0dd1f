// Where this build's copy of runtime/ is, and the three things deploying needs from it: its hash, its archive and
// the installer's text. The .vsix holds dist/*.js with runtime/ beside dist/; from sources (tsx, tests) it is the
// repository's runtime/. Walking up from this module's directory finds both, and nothing else is assumed.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { RUNTIME_VERSION } from './names';
import { runtimeFiles, runtimeHash, tarball, type RuntimeFile } from './bundle';
import { RuntimeFilesError } from './errors';

const MAX_LEVELS = 6;

export interface RuntimeBundle {
  /** The local runtime directory. */
  readonly dir: string;
  /** `~/.gadi-dask/runtime/<version>` on the cluster. */
  readonly version: string;
  /** runtime/README.md, "Hash". */
  readonly hash: string;
  readonly files: readonly RuntimeFile[];
  /** install.sh's text: run as `sh -c <text> gadi-dask-install …` so `check` needs no upload. */
  readonly installScript: string;
  /** bootstrap.sh's text: run as `bash -c <text> gadi-dask-agent …` to start the agent (agent.ts). */
  readonly bootstrapScript: string;
  /** The gzip'd ustar archive install.sh unpacks (built on first use). */
  archive(): Buffer;
}

function isRuntimeDir(dir: string): boolean {
  return existsSync(join(dir, 'run.py')) && existsSync(join(dir, 'install.sh')) && existsSync(join(dir, 'bootstrap.sh')) && existsSync(join(dir, 'gadi_dask'));
}

/**
 * The runtime directory of this build: `override` (or $GADI_DASK_RUNTIME_DIR) when given, else the first
 * `runtime/` found beside `from` (this module's directory: dist/ once bundled) or one of its ancestors.
 */
export function findRuntimeDir(override?: string, env: NodeJS.ProcessEnv = process.env, from = __dirname): string {
  const given = override ?? env.GADI_DASK_RUNTIME_DIR;
  if (given) {
    const dir = resolve(given);
    if (!isRuntimeDir(dir)) throw new RuntimeFilesError(`${dir} is not a gadi-dask runtime directory (no run.py, install.sh, bootstrap.sh and gadi_dask/ there).`);
    return dir;
  }
  const tried: string[] = [];
  let dir = from;
  for (let level = 0; level <= MAX_LEVELS; level++) {
    const candidate = join(dir, 'runtime');
    tried.push(candidate);
    if (isRuntimeDir(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new RuntimeFilesError(
    `The gadi-dask runtime files are missing from this installation (looked in ${tried.join(', ')}). Reinstall the ` +
      `extension, or set GADI_DASK_RUNTIME_DIR to a copy of runtime/.`,
  );
}

const cache = new Map<string, RuntimeBundle>();

/** The runtime bundle of `dir` (default: findRuntimeDir()), read once per process. */
export function loadRuntimeBundle(dir?: string, version = RUNTIME_VERSION): RuntimeBundle {
  const root = dir ?? findRuntimeDir();
  const key = `${root}\0${version}`;
  const cached = cache.get(key);
  if (cached) return cached;
  let files: RuntimeFile[];
  try {
    files = runtimeFiles(root);
  } catch (e) {
    throw new RuntimeFilesError(`Cannot read the runtime files in ${root}: ${(e as Error).message}`, { cause: e });
  }
  let archive: Buffer | undefined;
  const bundle: RuntimeBundle = {
    dir: root,
    version,
    hash: runtimeHash(files),
    files,
    installScript: readFileSync(join(root, 'install.sh'), 'utf8'),
    bootstrapScript: readFileSync(join(root, 'bootstrap.sh'), 'utf8'),
    archive: () => (archive ??= tarball(files, true)),
  };
  cache.set(key, bundle);
  return bundle;
}
