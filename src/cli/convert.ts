// `gadi-dask convert FILE`: a PBSCluster(...) call in a .py or .ipynb file → cluster config; a cluster config →
// the PBSCluster(...) call (`--to python`); dask's jobqueue.yaml → cluster config. The result goes to stdout (or
// --out), what could not be converted to stderr. Exit 0 done, 1 nothing to convert, 2 usage or unreadable file.
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { parseArgs } from 'node:util';
import {
  callHeader, configFromDaskConfig, ConvertError, draftFromCall, findPbsClusterCalls, notebookCells,
  pythonFromConfig, renderDraft, type NotConverted, type PbsClusterCall,
} from '../core/convert';

export interface ConvertIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readFile(path: string): string;
  writeFile(path: string, text: string): void;
}

export const CONVERT_USAGE = `Usage: gadi-dask convert [--to config|python] [--host HOST] [--line N] [--out FILE] FILE

  FILE.py, FILE.ipynb   the PBSCluster(...) call in it → a cluster config (*.dask-cluster.yaml)
  FILE.yaml             a dask config (jobqueue.yaml) → a cluster config from its jobqueue.pbs section
  --to python           a cluster config → the PBSCluster(...) call that reads the same
  --host HOST           connection.host of the new config (default gadi)
  --line N              the call that starts on line N (or in cell N of a notebook), when there are several
  --out FILE            write the result to FILE instead of stdout
Arguments that cannot be converted (names, f-strings, calls) are listed in the config as comments and on stderr.
Exit status: 0 converted, 1 nothing to convert (no call, invalid YAML), 2 usage error or unreadable file.
`;

const processIo: ConvertIo = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
  readFile: (p) => readFileSync(p, 'utf8'),
  writeFile: (p, t) => writeFileSync(p, t),
};

interface Found {
  call: PbsClusterCall;
  /** Where, for messages and the header: `cell 3, line 2` or `line 12`. */
  where: string;
  /** The number --line picks it by. */
  number: number;
}

function callsIn(file: string, text: string): Found[] {
  if (extname(file).toLowerCase() === '.ipynb') {
    return notebookCells(text, file).flatMap((cell) =>
      findPbsClusterCalls(cell.source, { ipython: true }).map((call) => ({ call, where: `cell ${cell.index + 1}`, number: cell.index + 1 })));
  }
  return findPbsClusterCalls(text).map((call) => ({ call, where: `line ${call.line + 1}`, number: call.line + 1 }));
}

function pick(file: string, found: Found[], line: number | undefined): Found {
  const candidates = line === undefined ? found : found.filter((f) => f.number === line);
  if (!found.length) throw new ConvertError(`${file} has no PBSCluster(...) call.`);
  if (!candidates.length) throw new ConvertError(`${file} has no PBSCluster(...) call at ${line}; there are calls at ${found.map((f) => f.where).join(', ')}.`);
  if (candidates.length > 1) {
    throw new ConvertError(`${file} has ${candidates.length} PBSCluster(...) calls (${candidates.map((f) => f.where).join(', ')}); pick one with --line N.`);
  }
  return candidates[0];
}

function convert(file: string, text: string, to: string, host: string, line: number | undefined): { out: string; notes: readonly NotConverted[] } {
  const ext = extname(file).toLowerCase();
  if (to === 'python') {
    const { code, dropped } = pythonFromConfig(text, file);
    return { out: code, notes: dropped };
  }
  if (ext === '.py' || ext === '.ipynb') {
    const found = pick(file, callsIn(file, text), line);
    const draft = draftFromCall(found.call);
    const header = ext === '.ipynb'
      ? `# Cluster config made from the PBSCluster(...) call in ${basename(file)}, ${found.where}.`
      : callHeader(basename(file), found.call.line);
    return { out: renderDraft(draft, { host, header }), notes: draft.notConverted };
  }
  const imported = configFromDaskConfig(text, { host, source: basename(file) });
  return { out: imported.text, notes: imported.dropped };
}

export function runConvert(args: string[], io: ConvertIo = processIo): number {
  let values: { to?: string; host?: string; line?: string; out?: string; help?: boolean };
  let files: string[];
  try {
    const parsed = parseArgs({
      args, allowPositionals: true, strict: true,
      options: {
        to: { type: 'string', default: 'config' }, host: { type: 'string', default: 'gadi' }, line: { type: 'string' },
        out: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' },
      },
    });
    values = parsed.values;
    files = parsed.positionals;
  } catch (e) {
    io.stderr(`gadi-dask convert: ${(e as Error).message}\n\n${CONVERT_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.stdout(CONVERT_USAGE);
    return 0;
  }
  const usage = (message: string) => {
    io.stderr(`gadi-dask convert: ${message}\n\n${CONVERT_USAGE}`);
    return 2;
  };
  if (files.length !== 1) return usage(files.length ? 'give one file' : 'no file given');
  if (values.to !== 'config' && values.to !== 'python') return usage(`--to must be config or python, not '${values.to}'`);
  if (values.line !== undefined && !/^[1-9]\d*$/.test(values.line)) return usage(`--line must be a line number, not '${values.line}'`);
  const host = values.host ?? 'gadi';
  if (!/^[\w.@-]+$/.test(host)) return usage(`--host must be an ssh alias or host name, not '${host}'`);
  const [file] = files;
  let text: string;
  try {
    text = io.readFile(file);
  } catch (e) {
    io.stderr(`gadi-dask convert: cannot read ${file}: ${(e as Error).message}\n`);
    return 2;
  }
  let result;
  try {
    result = convert(file, text, values.to, host, values.line === undefined ? undefined : Number(values.line));
  } catch (e) {
    if (!(e instanceof ConvertError)) throw e;
    io.stderr(`gadi-dask convert: ${e.message}\n`);
    return 1;
  }
  for (const n of result.notes) io.stderr(`gadi-dask convert: not converted: ${n.argument}: ${n.reason}\n`);
  if (values.out === undefined) io.stdout(result.out);
  else {
    try {
      io.writeFile(values.out, result.out);
    } catch (e) {
      io.stderr(`gadi-dask convert: cannot write ${values.out}: ${(e as Error).message}\n`);
      return 2;
    }
  }
  return 0;
}
