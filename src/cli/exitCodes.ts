// Exit statuses scripts can rely on, and which failure maps to which. Listed in `gadi-dask --help`.
import { TransportError } from '../core/remote/errors';
import { QsubError } from '../core/pbs/submit';
import { INTERRUPTED } from './served';
import {
  ClusterError, ClusterLockedError, ConfigFileError, InvalidClusterNameError, JobCeilingError, SchedulerTimeoutError,
} from '../core/cluster/errors';

export const EXIT = {
  ok: 0,
  /** The cluster refused or the action failed: qsub said no, the scheduler did not start, a remote error. */
  failed: 1,
  usage: 2,
  /** The cluster config file is missing, unreadable or invalid. */
  config: 3,
  /** No connection, or it dropped under a command: network, authentication, host key, ssh config. */
  connection: 4,
  /** Timed out: a remote command, the wait for the scheduler, or another client's lock. */
  timeout: 5,
  /** `status`: the cluster has no running scheduler. */
  notRunning: 6,
  interrupted: INTERRUPTED,
} as const;

export const EXIT_CODES_HELP = `Exit status:
  0    done (status: the scheduler is running)
  1    the action failed on the cluster (qsub refused a job, the scheduler did not start, a remote error)
  2    usage error (unknown command or option, bad number, a scale or adapt above the job ceiling)
  3    the cluster config file is missing, unreadable or invalid
  4    cannot connect, or the connection dropped under the command (network, authentication, host key, ssh config)
  5    timed out (a remote command, the wait for the scheduler or, with scale --wait, the workers; another
       client's lock on the cluster)
  6    status: the cluster is not running
  130  interrupted`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError || error instanceof RangeError || error instanceof JobCeilingError) return EXIT.usage;
  if (error instanceof ConfigFileError || error instanceof InvalidClusterNameError) return EXIT.config;
  if (error instanceof TransportError) {
    switch (error.kind) {
      case 'auth':
      case 'host-key':
      case 'connection':
      case 'config':
        return EXIT.connection;
      case 'timeout':
        return EXIT.timeout;
      case 'aborted':
        return EXIT.interrupted;
      default:
        return EXIT.failed;
    }
  }
  if (error instanceof SchedulerTimeoutError || error instanceof ClusterLockedError) return EXIT.timeout;
  if (error instanceof ClusterError || error instanceof QsubError) return EXIT.failed;
  return EXIT.failed;
}
