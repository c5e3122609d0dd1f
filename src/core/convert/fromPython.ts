// PBSCluster(...) call → cluster config. Each literal keyword argument becomes its `jobqueue.pbs` key; what cannot
// be copied (a name, an f-string, an argument no key stands for) is listed, with the reason, as a comment at the
// top of the new file and in the result, so nothing is dropped silently and nothing is guessed.
import { didYouMean } from '../config/suggest';
import { foldDeprecated, type NotConverted } from './canonical';
import { ARGUMENTS_WITHOUT_KEY, DEPRECATED_ARGUMENTS, KNOWN_ARGUMENTS, argumentOfKey, keyOfArgument } from './keys';
import type { PbsClusterCall } from './python';
import { yamlEntries } from './yaml';
import type { PyValue } from './value';

/** A config in the making: JSON data, so it can travel in a code action's command arguments. */
export interface ConfigDraft {
  /** `jobqueue.pbs` entries with the schema's key names, in the order of the call. */
  readonly pbs: ReadonlyArray<readonly [string, PyValue]>;
  readonly notConverted: readonly NotConverted[];
}

export function draftFromCall(call: PbsClusterCall): ConfigDraft {
  const pbs = new Map<string, PyValue>();
  const deprecated: [text: string, key: string, value: PyValue][] = [];
  const notConverted: NotConverted[] = [];
  const seen = new Set<string>();
  const skip = (argument: string, reason: string) => notConverted.push({ argument, reason });

  for (const arg of call.arguments) {
    if (arg.kind !== 'keyword' || arg.keyword === undefined) {
      skip(arg.text, arg.kind === 'unpack' ? 'unpacked arguments are known only when Python runs' : 'a positional argument (PBSCluster\'s first is n_workers): name it');
      continue;
    }
    const kw = arg.keyword;
    if (seen.has(kw)) {
      skip(arg.text, `${kw} is given twice, which Python refuses`);
      continue;
    }
    seen.add(kw);
    const key = keyOfArgument(kw);
    const replacement = DEPRECATED_ARGUMENTS.get(kw);
    if (key === undefined && replacement === undefined) {
      const known = ARGUMENTS_WITHOUT_KEY[kw];
      const guess = known ? undefined : didYouMean(kw, KNOWN_ARGUMENTS);
      skip(arg.text, known ?? `PBSCluster takes no argument ${kw}${guess ? ` (did you mean ${guess}?)` : ''}`);
      continue;
    }
    if (!arg.value.ok) {
      skip(arg.text, arg.value.reason);
      continue;
    }
    const value = arg.value.value;
    // None means "take it from dask's config", which is what leaving the key out of this file means too; only
    // python has a default that None does not give back (dask-jobqueue would write `None -m …`).
    if (value.type === 'none') {
      if (kw === 'python') skip(arg.text, 'python=None makes dask-jobqueue write "None -m …" in the job script');
      continue;
    }
    if (replacement !== undefined) deprecated.push([arg.text, replacement, value]);
    else if (key !== undefined) pbs.set(key, value);
  }

  foldDeprecated(pbs, deprecated, (text, key) => skip(text, `dask-jobqueue ignores it because ${argumentOfKey(key)} is given`));
  return { pbs: [...pbs], notConverted };
}

export interface RenderOptions {
  /** The ssh alias of a login node, for `connection.host`. */
  host: string;
  /** The first comment line: where the config came from. */
  header: string;
  /** The comment above what was not converted. */
  listTitle?: string;
}

/** Where a call was, for the header: `in analysis.py, line 12`. */
export function callHeader(source: string | undefined, line: number): string {
  return `# Cluster config made from the PBSCluster(...) call${source ? ` in ${source}` : ''}, line ${line + 1}.`;
}

/** The config file's text: the header, what was not converted as comments, then the keys. */
export function renderDraft(draft: ConfigDraft, options: RenderOptions): string {
  const lines = [options.header];
  if (draft.notConverted.length) {
    lines.push(`# ${options.listTitle ?? 'Not converted (set these here by hand if the cluster needs them)'}:`);
    for (const n of draft.notConverted) lines.push(`#   ${n.argument}: ${n.reason}`);
  }
  lines.push(
    'site: gadi',
    'connection:',
    ...yamlEntries([['host', { type: 'str', value: options.host }]], '  '),
    'jobqueue:',
    '  pbs:',
    ...(draft.pbs.length ? yamlEntries(draft.pbs, '    ') : ['    {}']),
  );
  return `${lines.join('\n')}\n`;
}

/** A file name for the new config: the PBS job name when the call gives one, else the source file's name. */
export function configFileBase(draft: ConfigDraft, sourceStem: string): string {
  const name = draft.pbs.find(([k]) => k === 'name')?.[1];
  const base = name?.type === 'str' && name.value ? name.value : sourceStem;
  return base.replace(/[^\w.-]+/g, '-').replace(/^[.-]+|[.-]+$/g, '') || 'cluster';
}
