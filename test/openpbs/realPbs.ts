// The openpbs layer's shared parts: a cluster account on real OpenPBS (the sandbox's real sshd, PBS's own commands
// on the login PATH), the CLI run over SSH as a user runs it, and PBS asked directly as root. run.sh starts PBS and
// runs these tests inside its private network namespace; outside it they refuse to start.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from '../../src/core/cluster/cluster';
import { parseClusterConfig } from '../../src/core/cluster/configFile';
import { refusingPrompt } from '../../src/core/remote/prompt';
import { SshTransportPool } from '../../src/core/remote/sshTransport';
import { cliOverSsh, smallClusterYaml, type RunResult } from '../sandbox/clusterFixture';
import { startSandbox, type Sandbox } from '../sandbox/sandbox';

const PREFIX = process.env.GADI_DASK_OPENPBS_PREFIX ?? '';
export const PBS_SERVER = process.env.GADI_DASK_OPENPBS_HOST ?? '';
export const PBS_BIN = join(PREFIX, 'bin');

/** This process's network namespace is not the machine's own (run.sh passes its inode): nothing here can reach the
 * machine's addresses. */
export function inPrivateNetns(): boolean {
  const host = Number(process.env.GADI_DASK_HOST_NETNS);
  return Number.isInteger(host) && host > 0 && statSync('/proc/self/ns/net').ino !== host;
}

export interface RealPbs {
  sb: Sandbox;
  work: string;
  pool: SshTransportPool;
  /** A cluster config file for `name` (the sandbox's small cluster, scheduler in its own job) plus `extra`. */
  config(name: string, extra?: string): string;
  cluster(name: string, extra?: string): Cluster;
  /** The CLI over SSH, as the README gives it: `gadi-dask ARGS --config FILE`. */
  cli(args: string[], config: string, timeoutMs?: number): Promise<RunResult & { ms: number }>;
  stop(): Promise<void>;
}

/** `cli` makes the CLI's command line (default: from source; the benchmark runs the shipped bundle). */
export async function startRealPbs(user: string, cli?: (args: string[]) => string[]): Promise<RealPbs> {
  if (!PREFIX || !PBS_SERVER || !inPrivateNetns()) {
    throw new Error('the openpbs tests run inside the namespace test/openpbs/run.sh makes (bash test/openpbs/run.sh)');
  }
  const sb = await startSandbox({ user, pbsCommandsDir: PBS_BIN });
  const work = mkdtempSync(join(tmpdir(), `openpbs-${user}-`));
  chmodSync(work, 0o755);
  const pool = new SshTransportPool({ prompt: refusingPrompt, agent: null, sshConfig: { configFile: sb.sshConfigPath, systemConfigFile: null } });
  const config = (name: string, extra = '') => {
    const file = join(work, `${name}.dask-cluster.yaml`);
    writeFileSync(file, smallClusterYaml(name, sb.alias, extra));
    return file;
  };
  return {
    sb,
    work,
    pool,
    config,
    cluster: (name, extra = '') => new Cluster(pool.open(sb.alias), parseClusterConfig(readFileSync(config(name, extra), 'utf8'))),
    cli: async (args, file, timeoutMs = 300_000) => {
      const started = Date.now();
      const r = await cliOverSsh(sb, args, file, timeoutMs, cli);
      return { ...r, ms: Date.now() - started };
    },
    stop: async () => {
      await pool.close();
      await sb.stop();
      rmSync(work, { recursive: true, force: true });
    },
  };
}


/** A PBS command as root (an administrator's view, not the user's), its output as text. */
export function pbs(command: string, args: string[], timeoutMs = 30_000): RunResult {
  const r = spawnSync(join(PBS_BIN, command), args, { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export interface RealJob {
  id: string;
  name: string;
  state: string;
  owner: string;
  attrs: Record<string, unknown>;
}

/** Every job of `user` PBS knows, finished ones included (`qstat -x`), asked in one request. */
export function jobsOf(user: string): RealJob[] {
  const ids = pbs('qselect', ['-x', '-u', user]).stdout.split('\n').map((l) => l.trim()).filter(Boolean);
  if (!ids.length) return [];
  const r = pbs('qstat', ['-E', '-x', '-f', '-F', 'json', ...ids]);
  const jobs = (JSON.parse(r.stdout) as { Jobs?: Record<string, Record<string, unknown>> }).Jobs ?? {};
  return Object.entries(jobs).map(([id, a]) => ({
    id, attrs: a, name: String(a.Job_Name), state: String(a.job_state), owner: String(a.Job_Owner).split('@')[0]!,
  }));
}

/** The user's jobs that still hold (or wait for) resources. */
export const liveJobsOf = (user: string) => jobsOf(user).filter((j) => !'FXM'.includes(j.state));

/** Sockets of this namespace in TIME_WAIT (all of them, and those from a privileged port). */
export function timeWait(): { all: number; privileged: number } {
  let all = 0;
  let privileged = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] !== '06') continue;
      all++;
      if (parseInt(f[1]!.split(':')[1]!, 16) < 1024) privileged++;
    }
  }
  return { all, privileged };
}
