// The `gadi-dask` command line: thin; it parses arguments and renders what the core returns.
import { parseArgs } from 'node:util';
import { neutralize } from '../core/serverText';
import { setTraceSink, trace } from '../core/trace';
import { VERSION } from '../core/version';
import { CLUSTER_COMMANDS, CLUSTER_HELP, runClusterCommand, type ClusterCommand, type CliIO } from './clusterCommands';
import { EXIT, EXIT_CODES_HELP, exitCodeOf } from './exitCodes';
import { runConvert } from './convert';
import { runLint } from './lint';
import type { ServedRequest } from './served';
import { serveCommands } from './server';

/** GADI_DASK_TRACE=1: print the steps of a command with their times (see core/trace.ts). */
export const TRACE_ENV = 'GADI_DASK_TRACE';

const HELP = `gadi-dask ${VERSION} — run a Dask cluster on NCI Gadi through PBS Pro

Usage: gadi-dask <command> [options]

Options:
  -h, --help       show this help
  -V, --version    print the version

Commands:
  lint [--format text|json] FILE...   check cluster config files (*.dask-cluster.yaml); no connection needed
  convert [--to python] FILE          PBSCluster(...) in a .py/.ipynb file or a dask jobqueue.yaml → cluster
                                      config; a cluster config → PBSCluster(...) with --to python

${CLUSTER_HELP}
Progress goes to stderr, results to stdout. With GADI_DASK_TRACE=1 in the environment, each step of a command
(connecting, each request to the agent, each progress line) is also printed there with its time since start.

${EXIT_CODES_HELP}
`;

export async function main(argv: string[], io: CliIO = defaultIO(), signal?: AbortSignal): Promise<number> {
  // Where the time goes, on stderr: milliseconds since the process started, then the step.
  const elapsed = io.elapsedMs ?? (() => performance.now());
  if (process.env[TRACE_ENV] === '1') setTraceSink((event) => io.stderr.write(`trace ${Math.round(elapsed())} ms ${neutralize(event)}\n`));
  trace(`cli: ${argv[0] ?? ''} started`);
  const command = argv[0]?.startsWith('-') ? undefined : argv[0];
  if (command === undefined || command === 'help') {
    const { values } = parseArgs({
      args: argv,
      options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'V' } },
      allowPositionals: true,
      strict: false,
    });
    if (values.version) {
      io.stdout.write(`${VERSION}\n`);
      return EXIT.ok;
    }
    io.stdout.write(HELP);
    return values.help || command === 'help' ? EXIT.ok : EXIT.usage;
  }
  const rest = argv.slice(1);
  if (command === 'lint') return runLint(rest);
  if (command === 'convert') return runConvert(rest);
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  if ((CLUSTER_COMMANDS as readonly string[]).includes(command)) {
    try {
      return await runClusterCommand(command as ClusterCommand, rest, io, signal);
    } catch (e) {
      io.stderr.write(`gadi-dask ${command}: ${neutralize(e instanceof Error ? e.message : String(e))}\n`);
      return exitCodeOf(e);
    }
  }
  io.stderr.write(`gadi-dask: unknown command '${command}'. Run 'gadi-dask --help' for the list.\n`);
  return EXIT.usage;
}

function defaultIO(): CliIO {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, cwd: process.cwd() };
}

/** The process's own command line, run until it leaves with the command's exit code (launch.ts calls this; so does
 * `node cli.js` from the source). */
export function run(argv: string[]): void {
  // Ctrl-C cancels what runs (remote commands are stopped); a second one leaves at once.
  const controller = new AbortController();
  process.on('SIGINT', () => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    controller.abort();
  });
  main(argv, defaultIO(), controller.signal).then(
    (code) => leave(code),
    (e: unknown) => {
      process.stderr.write(`gadi-dask: ${neutralize(e instanceof Error ? (e.stack ?? e.message) : String(e))}\n`);
      leave(EXIT.failed);
    },
  );
}

if (require.main === module) run(process.argv.slice(2));

/** The background process launch.ts starts: it runs the next commands through `main` (server.ts). */
export function serve(socket: string, first: ServedRequest | undefined, idleSeconds: number): void {
  serveCommands(socket, first, idleSeconds, main);
}

/**
 * The command has reported: leave once the output is written, whatever a connection, a reconnect or a keepalive
 * timer may still hold open. A script waiting on gadi-dask must never wait on its transport.
 */
function leave(code: number): void {
  process.exitCode = code;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}
