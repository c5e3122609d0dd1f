// The `gadi-dask` command line: thin; it parses arguments and renders what the core returns.
import { parseArgs } from 'node:util';
import { VERSION } from '../core/version';
import { runLint } from './lint';

const HELP = `gadi-dask ${VERSION} — run a Dask cluster on NCI Gadi through PBS Pro

Usage: gadi-dask <command> [options]

Options:
  -h, --help       show this help
  -V, --version    print the version

Commands:
  lint [--format text|json] FILE...   check cluster config files (*.dask-cluster.yaml)

More commands arrive with the features that need them (job-script, up, scale, status, down).
`;

export function main(argv: string[]): number {
  if (argv[0] === 'lint') return runLint(argv.slice(1));
  const { values, positionals } = parseArgs({
    args: argv,
    options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'V' } },
    allowPositionals: true,
    strict: false,
  });
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (values.help || positionals.length === 0) {
    process.stdout.write(HELP);
    return 0;
  }
  process.stderr.write(`gadi-dask: unknown command '${positionals[0]}'. Run 'gadi-dask --help' for the list.\n`);
  return 2;
}

process.exitCode = main(process.argv.slice(2));
