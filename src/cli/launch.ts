// `gadi-dask` as installed (dist/cli.js): starts the command line from the bundle beside it (dist/cliMain.js) through
// V8's code cache, kept in the user's cache directory. Without it each command compiles the same megabyte of
// JavaScript before it does anything; Node before 22 has no cache of its own. Imports nothing of the project: this
// file is the whole of what runs before the bundle.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';

/** The bundle this starts, beside this file (scripts/bundles.mjs writes it; a test holds the two to one name). */
export const CLI_MAIN = 'cliMain.js';
/** GADI_DASK_COMPILE_CACHE=0: compile the bundle every time, reading and writing no cache. */
export const COMPILE_CACHE_ENV = 'GADI_DASK_COMPILE_CACHE';

/** Where the cache of this bundle's compiled code lives: named for its content, so that V8 is never handed code
 * compiled from another text (it checks only the text's length), for Node's version and the CPU, and for the command:
 * each compiles its own functions (a lint none of ssh2's), and the cache holds those the run that wrote it used. */
export function cacheFileFor(source: string, command: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const dir = join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'gadi-dask');
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

function launch(): void {
  const file = join(__dirname, CLI_MAIN);
  const source = readFileSync(file, 'utf8');
  const useCache = process.env[COMPILE_CACHE_ENV] !== '0';
  const cacheFile = useCache ? cacheFileFor(source, process.argv[2]) : undefined;
  const cached = cacheFile ? readCache(cacheFile) : undefined;
  const script = new Script(Module.wrap(source), { filename: file, cachedData: cached });
  const mod = new Module(file, module);
  mod.filename = file;
  const load = createRequire(file);
  script.runInThisContext()(mod.exports, load, mod, file, __dirname);
  mod.loaded = true;
  if (cacheFile && (!cached || script.cachedDataRejected)) process.once('exit', () => writeCache(cacheFile, script.createCachedData()));
  (mod.exports as { run(argv: string[]): void }).run(process.argv.slice(2));
}

if (require.main === module) launch();
