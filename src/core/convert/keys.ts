// Which PBSCluster keyword argument is which `jobqueue.pbs` key. dask's config reads `_` and `-` alike, so most
// keys are their argument with dashes; the exceptions and the arguments that have no key are listed here, once.
import { DEPRECATED_PBS_KEYS, pbsSchema } from '../config/schema';

/** Keys whose argument is not the key with underscores: the PBS job name is `job_name` (`name` is the cluster's). */
const ARGUMENT_OF_KEY: Readonly<Record<string, string>> = { name: 'job_name' };

export const snake = (key: string): string => key.replace(/-/g, '_');

export function argumentOfKey(key: string): string {
  return ARGUMENT_OF_KEY[key] ?? snake(key);
}

/**
 * Deprecated keys dask-jobqueue still reads, and the key that replaces each: it uses the old one only while the
 * new one is empty (`project` is PBSJob's old name for `account`).
 */
export const DEPRECATED_KEYS: ReadonlyMap<string, string> = new Map([...Object.entries(DEPRECATED_PBS_KEYS), ['project', 'account']]);
/** Config keys as the current schema spells them (kebab-case), deprecated ones left out. */
export const PBS_KEYS: readonly string[] = Object.keys(pbsSchema.shape).filter((k) => !DEPRECATED_KEYS.has(k));
export const DEPRECATED_ARGUMENTS: ReadonlyMap<string, string> = new Map([...DEPRECATED_KEYS].map(([old, key]) => [snake(old), key]));

const KEY_OF_ARGUMENT: ReadonlyMap<string, string> = new Map(PBS_KEYS.map((k) => [argumentOfKey(k), k]));

/** PBSCluster arguments that no config key stands for, and what to do instead. */
export const ARGUMENTS_WITHOUT_KEY: Readonly<Record<string, string>> = {
  name: 'the cluster\'s own name in Python; here the cluster is named by jobqueue.pbs.name (job_name)',
  n_workers: 'start workers with Scale Cluster (or `gadi-dask scale N`)',
  nanny: 'the cluster config has no key for it: workers always run with a nanny',
  protocol: 'the cluster config has no key for it',
  security: 'the cluster config has no key for it',
  silence_logs: 'it only affects the Python process that runs PBSCluster',
  asynchronous: 'it only affects the Python process that runs PBSCluster',
  loop: 'it only affects the Python process that runs PBSCluster',
  scheduler_cls: 'the scheduler here is started by the cluster runtime',
  job_cls: 'the jobs here are PBS jobs',
  config_name: 'this file is the config: its jobqueue.pbs section is the one read',
  dashboard_address: 'dask-jobqueue refuses it: give scheduler_options={"dashboard_address": …}',
  host: 'dask-jobqueue refuses it: give scheduler_options={"host": …}',
  submit_command_extra: 'the cluster config has no key for it',
  cancel_command_extra: 'the cluster config has no key for it',
};

/** Every argument the converter knows, for did-you-mean suggestions. */
export const KNOWN_ARGUMENTS: readonly string[] = [
  ...KEY_OF_ARGUMENT.keys(), ...DEPRECATED_ARGUMENTS.keys(), ...Object.keys(ARGUMENTS_WITHOUT_KEY),
];

export function keyOfArgument(argument: string): string | undefined {
  return KEY_OF_ARGUMENT.get(argument);
}
