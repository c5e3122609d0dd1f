// What the installed `gadi-dask` and its background process agree on (launch.ts asks, server.ts answers): which
// commands a background process may run, where it listens, and the lines they exchange. Imports nothing of the
// project: the launcher carries it.
import { createHash } from 'node:crypto';
import { lstatSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** GADI_DASK_CLI_SERVER=0: no background process; N: the seconds one stays without a command (default 600). */
export const SERVER_ENV = 'GADI_DASK_CLI_SERVER';
export const SERVER_IDLE_SECONDS = 600;
/** The exit code of a command interrupted by a second Ctrl-C (exitCodes.ts holds it to EXIT.interrupted). */
export const INTERRUPTED = 130;
/** Set in the background process's own environment: the socket it listens on, and the command that started it. */
export const SERVE_SOCKET_ENV = 'GADI_DASK_SERVE_SOCKET';
export const SERVE_FIRST_ENV = 'GADI_DASK_SERVE_FIRST';

/** Commands that only print and exit once the cluster answered: no question on a terminal, no stream held open
 * (cancel asks first; connect, run and kernel stream or hold a tunnel). Anything else runs in its own process. */
export const SERVED_COMMANDS: readonly string[] = ['up', 'scale', 'adapt', 'status', 'report', 'down'];

/** What a command asks a background process: its words, where it was run, what its output goes to, and when its
 * own process started (traces count from there). */
export interface ServedRequest {
  argv: string[];
  cwd: string;
  tty: { stdout: boolean; stderr: boolean };
  startedAt: number;
}

/** One line each way. The client: a request, then `{"signal":"SIGINT"}` per Ctrl-C. The background process, at
 * once: `{"local":true}` (run it yourself: nothing was done) or `{"held":true}` (it runs here, on the connection it
 * holds); then output, then `{"exit":N}`. */
export type ServerLine = { local: true } | { held: true } | { o: string } | { e: string } | { exit: number };

/** Environment that changes what a command does or where it signs in: a process started under another one is
 * another process (its socket has another name). */
function environmentKey(env: NodeJS.ProcessEnv): string {
  const names = Object.keys(env).filter((k) => /^(GADI_DASK_|SSH_|NODE_|XDG_)/.test(k) || ['HOME', 'USER', 'LOGNAME', 'PATH'].includes(k));
  const hash = createHash('sha256');
  for (const k of names.sort()) if (k !== SERVE_SOCKET_ENV && k !== SERVE_FIRST_ENV) hash.update(`${k}=${env[k]}\0`);
  return hash.digest('hex').slice(0, 12);
}

/** The user's cache directory for the command line: V8's compiled code (launch.ts) and the background process's
 * socket. */
export function cacheDirOf(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'gadi-dask');
}

/**
 * The socket of the background process for this bundle (its size, time and inode: an update is another process)
 * and this environment, in the user's cache directory; undefined when that directory is not the user's alone (or
 * the path is too long for a socket): then every command runs in its own process.
 */
export function serverSocketFor(bundleFile: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  try {
    const dir = cacheDirOf(env);
    const d = lstatSync(dir);
    if (!d.isDirectory() || d.uid !== process.getuid?.() || (d.mode & 0o077) !== 0) return undefined;
    const b = statSync(bundleFile);
    const bundle = createHash('sha256').update(`${b.size}:${b.mtimeMs}:${b.ino}`).digest('hex').slice(0, 12);
    const path = join(dir, `cli-${bundle}-${environmentKey(env)}.sock`);
    return Buffer.byteLength(path) < 100 ? path : undefined;
  } catch {
    return undefined;
  }
}
