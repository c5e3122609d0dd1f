// `gadi-dask` as installed (dist/cli.js): starts the command line from the bundle beside it (dist/cliMain.js) through
// V8's code cache, kept in the user's cache directory. Without it each command compiles the same megabyte of
// JavaScript before it does anything; Node before 22 has no cache of its own. Imports nothing of the project: this
// file is the whole of what runs before the bundle.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { createConnection } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';
import {
  cacheDirOf, INTERRUPTED, SERVE_FIRST_ENV, SERVE_SOCKET_ENV, SERVED_COMMANDS, SERVER_ENV, SERVER_IDLE_SECONDS, serverSocketFor,
  type ServedRequest, type ServerLine,
} from './served';

/** The bundle this starts, beside this file (scripts/bundles.mjs writes it; a test holds the two to one name). */
export const CLI_MAIN = 'cliMain.js';
/** GADI_DASK_COMPILE_CACHE=0: compile the bundle every time, reading and writing no cache. */
export const COMPILE_CACHE_ENV = 'GADI_DASK_COMPILE_CACHE';

/** Where the cache of this bundle's compiled code lives: named for its content, so that V8 is never handed code
 * compiled from another text (it checks only the text's length), for Node's version and the CPU, and for the command:
 * each compiles its own functions (a lint none of ssh2's), and the cache holds those the run that wrote it used. */
export function cacheFileFor(source: string, command: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const dir = cacheDirOf(env);
  const key = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const word = command && /^[a-z]{1,20}$/.test(command) ? command : '_';
  return join(dir, `cli-${key}-${word}-${process.version}-${process.arch}.v8`);
}

function readCache(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Written once the command has run, so the cache holds every function it compiled; the caches of other bundles
 * go. A home that cannot be written to only means the next command compiles again. */
function writeCache(file: string, data: Buffer): void {
  try {
    const dir = dirname(file);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const temp = `${file}.${process.pid}.tmp`;
    writeFileSync(temp, data, { mode: 0o600 });
    renameSync(temp, file);
    const bundle = basename(file).split('-', 2).join('-'); // cli-<key>
    for (const name of readdirSync(dir)) {
      if (/^cli-[0-9a-f]{16}-.*\.v8$/.test(name) && !name.startsWith(`${bundle}-`)) rmSync(join(dir, name), { force: true });
    }
  } catch {
    // nothing lost: the cache is only a shortcut
  }
}

interface Bundle {
  run(argv: string[]): void;
  serve(socket: string, first: ServedRequest | undefined, idleSeconds: number): void;
}

/** Loads the bundle, through the cache of the code compiled for `command` last time. */
function load(command: string | undefined): Bundle {
  const file = join(__dirname, CLI_MAIN);
  const source = readFileSync(file, 'utf8');
  const useCache = process.env[COMPILE_CACHE_ENV] !== '0';
  const cacheFile = useCache ? cacheFileFor(source, command) : undefined;
  const cached = cacheFile ? readCache(cacheFile) : undefined;
  const script = new Script(Module.wrap(source), { filename: file, cachedData: cached });
  const mod = new Module(file, module);
  mod.filename = file;
  script.runInThisContext()(mod.exports, createRequire(file), mod, file, __dirname);
  mod.loaded = true;
  if (cacheFile && (!cached || script.cachedDataRejected)) process.once('exit', () => writeCache(cacheFile, script.createCachedData()));
  return mod.exports as Bundle;
}

/** The seconds a background process stays without a command, or 0 when there is none (GADI_DASK_CLI_SERVER). */
function idleSeconds(): number {
  const v = process.env[SERVER_ENV];
  if (v === undefined || v === '') return SERVER_IDLE_SECONDS;
  return /^\d{1,6}$/.test(v) ? Number(v) : 0;
}

/**
 * Asks the background process at `socket` to run the command: 'served' once it has (its output written here, the
 * process leaving with its exit code), 'local' when it said to run it here (nothing done), 'absent' when none
 * listens. A background process that does not say within a few seconds whether it runs the command is left: it
 * drops the command before it connects anywhere, since it finds this end gone.
 */
function ask(socket: string, request: ServedRequest): Promise<'served' | 'local' | 'absent'> {
  return new Promise((settle) => {
    const conn = createConnection(socket);
    let answered = false;
    let done = false;
    const finish = (how: 'served' | 'local' | 'absent') => {
      if (done) return;
      done = true;
      clearTimeout(silent);
      process.removeListener('SIGINT', interrupt);
      settle(how);
    };
    const silent = setTimeout(() => {
      conn.destroy();
      finish('local');
    }, 5000);
    // Ctrl-C goes to the command where it runs; a second one leaves at once, as in a process of its own.
    let interrupts = 0;
    const interrupt = () => {
      if (++interrupts > 1) process.exit(INTERRUPTED);
      conn.write('{"signal":"SIGINT"}\n');
    };
    process.on('SIGINT', interrupt);
    conn.on('connect', () => conn.write(`${JSON.stringify(request)}\n`));
    conn.on('error', () => undefined);
    let rest = '';
    conn.setEncoding('utf8');
    conn.on('data', (chunk: string) => {
      rest += chunk;
      let nl: number;
      while ((nl = rest.indexOf('\n')) >= 0) {
        answered = true;
        let line: ServerLine;
        try {
          line = JSON.parse(rest.slice(0, nl)) as ServerLine;
        } catch {
          conn.destroy(); // not our background process's words: what it did is not known
          return;
        }
        rest = rest.slice(nl + 1);
        clearTimeout(silent);
        if ('local' in line) {
          conn.destroy();
          return finish('local');
        }
        if ('o' in line) process.stdout.write(line.o);
        else if ('e' in line) process.stderr.write(line.e);
        else if ('exit' in line) {
          conn.destroy();
          process.exitCode = line.exit;
          process.stdout.write('', () => process.stderr.write('', () => process.exit(line.exit)));
          return finish('served');
        }
      }
    });
    conn.on('close', () => {
      if (done) return;
      if (!answered) return finish('absent');
      // It ran part of the command and ended: what it did is not done again here.
      process.stderr.write('gadi-dask: its background process ended before the command did; run it again to see where the cluster stands.\n');
      process.exitCode = 1;
      finish('served');
    });
  });
}

/** Starts the background process that runs the next commands with this one's connection signed in already. */
function startServer(socket: string, request: ServedRequest): void {
  try {
    spawn(process.execPath, [__filename], {
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, [SERVE_SOCKET_ENV]: socket, [SERVE_FIRST_ENV]: JSON.stringify(request) },
    }).unref();
  } catch {
    // nothing lost: the next command runs in its own process too
  }
}

async function launch(): Promise<void> {
  const argv = process.argv.slice(2);
  const serving = process.env[SERVE_SOCKET_ENV];
  if (serving) {
    let first: ServedRequest | undefined;
    try {
      first = JSON.parse(process.env[SERVE_FIRST_ENV] ?? '') as ServedRequest;
    } catch {
      first = undefined;
    }
    // Nothing this process starts is another background process.
    delete process.env[SERVE_SOCKET_ENV];
    delete process.env[SERVE_FIRST_ENV];
    load('serve').serve(serving, first, idleSeconds());
    return;
  }
  const idle = idleSeconds();
  const socket = idle > 0 && SERVED_COMMANDS.includes(argv[0] ?? '') ? privateSocket() : undefined;
  if (socket) {
    const request: ServedRequest = {
      argv, cwd: process.cwd(), tty: { stdout: !!process.stdout.isTTY, stderr: !!process.stderr.isTTY },
      startedAt: performance.timeOrigin,
    };
    const how = await ask(socket, request);
    if (how === 'served') return;
    if (how === 'absent') process.once('exit', () => startServer(socket, request));
  }
  load(argv[0]).run(argv);
}

/** The background process's socket, its directory made the user's alone if it is not there yet. */
function privateSocket(): string | undefined {
  try {
    mkdirSync(cacheDirOf(), { recursive: true, mode: 0o700 });
  } catch {
    return undefined;
  }
  return serverSocketFor(join(__dirname, CLI_MAIN));
}

if (require.main === module) void launch();
