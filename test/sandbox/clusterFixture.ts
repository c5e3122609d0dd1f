// Shared by the cluster acceptance tests and the cluster benchmarks: a Transport wrapper that counts round trips,
// the small cluster config they run, commands and the CLI run as the cluster account, PBS's view of a cluster's
// worker jobs, a look at the processes a user has left, and the sandbox-with-a-cluster most tests start from.
import { spawn, type SpawnOptions as ProcessOptions } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { clientSnippet } from '../../src/core/cluster/clientSnippet';
import { Cluster } from '../../src/core/cluster/cluster';
import { parseClusterConfig } from '../../src/core/cluster/configFile';
import { JOB_NAME_SUFFIX, jobDisplayName } from '../../src/core/cluster/names';
import { refusingPrompt } from '../../src/core/remote/prompt';
import { SshTransportPool } from '../../src/core/remote/sshTransport';
import type { ExecOptions, ExecResult, ForwardTls, SpawnOptions, Transport } from '../../src/core/remote/transport';
import { SANDBOX_DASHBOARD_ADDRESS, SANDBOX_DASK_INTERFACE, startSandbox, type Sandbox, type SandboxOptions } from './sandbox';

/** Delegates to `inner` and counts what crosses the link. */
export class CountingTransport implements Transport {
  execs = 0;
  uploads = 0;
  readonly commands: string[] = [];
  constructor(private readonly inner: Transport) {}
  get host() {
    return this.inner.host;
  }
  get state() {
    return this.inner.state;
  }
  exec(command: string, opts?: ExecOptions): Promise<ExecResult> {
    this.execs++;
    this.commands.push(command);
    return this.inner.exec(command, opts);
  }
  upload(data: Buffer | string, remotePath: string, mode?: number) {
    this.uploads++;
    return this.inner.upload(data, remotePath, mode);
  }
  readFile(remotePath: string) {
    return this.inner.readFile(remotePath);
  }
  /** A spawn is a round trip too (the agent's calls are spawns). */
  spawn(command: string, opts?: SpawnOptions) {
    this.execs++;
    this.commands.push(command);
    return this.inner.spawn(command, opts);
  }
  forward(remoteHost: string, remotePort: number, localPort?: number, tls?: ForwardTls) {
    return this.inner.forward(remoteHost, remotePort, localPort, tls);
  }
  onStateChange(listener: Parameters<Transport['onStateChange']>[0]) {
    return this.inner.onStateChange(listener);
  }
  close() {
    return this.inner.close();
  }
  reset(): void {
    this.execs = 0;
    this.uploads = 0;
    this.commands.length = 0;
  }
}

/**
 * A prologue as dask-jobqueue users write one: an item that is a YAML block scalar of two commands, where the
 * second reads what the first exported and logs it to ~/prologue-ran.log under the job's name (or `agent` in the
 * agent's shell), so the log proves both ran, in order, in one shell; and an item of one line.
 */
export const BLOCK_PROLOGUE = `    job-script-prologue:
      - |
        export GD_FIRST="one two"
        echo "\${PBS_JOBNAME:-agent} saw $GD_FIRST" >>"$HOME/prologue-ran.log"
      - export GD_THIRD=3
`;

/** Python that prints, as JSON, [GD_FIRST, GD_THIRD] as each worker of cluster `name` has them (with its keys). */
export const workerEnvPython = (name: string) => `
import json, os
${connectClient(name)}print(json.dumps(list(c.run(lambda: [os.environ.get("GD_FIRST"), os.environ.get("GD_THIRD")]).values())))
c.close()
`;

/** A cluster as small as Dask allows: one core, 1 GB, Debian's python with distributed, on loopback only. */
export function smallClusterYaml(name: string, host: string, extra = ''): string {
  return `connection:
  host: ${host}
jobqueue:
  pbs:
    name: ${name}
    cores: 1
    memory: 1GB
    python: /usr/bin/python3
    walltime: '00:20:00'
    death-timeout: 30
    interface: ${SANDBOX_DASK_INTERFACE}
    worker-extra-args: ['--dashboard-address', '${SANDBOX_DASHBOARD_ADDRESS}']
    scheduler-options: {dashboard_address: '${SANDBOX_DASHBOARD_ADDRESS}'}
${extra}`;
}

/** Python that connects `c` to the small cluster `name` as Insert Dask Client Snippet writes it (with its keys). */
export function connectClient(name: string): string {
  return `${clientSnippet(parseClusterConfig(smallClusterYaml(name, 'sandbox')))}c = client\n`;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `argv` to its end and gives its output as text; it is killed after `timeoutMs`, when given. */
export function run(argv: string[], options: ProcessOptions = {}, input = '', timeoutMs?: number): Promise<RunResult> {
  return new Promise((done, fail) => {
    const p = spawn(argv[0], argv.slice(1), { ...options, stdio: ['pipe', 'pipe', 'pipe'] });
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    let stdout = '';
    let stderr = '';
    p.stdout!.on('data', (d) => (stdout += d));
    p.stderr!.on('data', (d) => (stderr += d));
    p.on('error', fail);
    p.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
    p.stdin!.end(input);
  });
}

/** Runs `argv` as the sandbox's cluster account, in its home, with a login-like environment (plus `env`). */
export function runAs(sb: Sandbox, argv: string[], input = '', env: Record<string, string> = {}): Promise<RunResult> {
  return run(argv, {
    uid: sb.uid, gid: sb.gid, cwd: sb.home,
    env: { HOME: sb.home, USER: sb.user, LOGNAME: sb.user, PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', ...env },
  }, input);
}

const TSX = require.resolve('tsx');
const CLI = join(resolve(__dirname, '..', '..'), 'src', 'cli', 'cli.ts');

/** The command line that runs the CLI from source. */
export const cliArgv = (args: string[]): string[] => [process.execPath, '--import', TSX, CLI, ...args];

/** The CLI over SSH to the sandbox, as a user runs it on their own machine (no ssh-agent); `cli` makes the command
 * line (default: from source). */
export function cliOverSsh(sb: Sandbox, args: string[], config: string, timeoutMs?: number, cli = cliArgv): Promise<RunResult> {
  return run(cli([...args, '--config', config, '--ssh-config', sb.sshConfigPath]), { env: { ...process.env, SSH_AUTH_SOCK: '' } }, '', timeoutMs);
}

/** The CLI as the cluster account, on its login node (local transport). */
export function cliAs(sb: Sandbox, args: string[], config: string): Promise<RunResult> {
  return runAs(sb, cliArgv([...args, '--transport', 'local', '--config', config]));
}

/** PBS's own view: the user's live jobs named for the cluster's workers. */
export async function liveWorkerJobs(t: Transport, name: string): Promise<string[]> {
  const r = await t.exec('for id in $(qselect -u "$USER"); do qstat -f -F json "$id"; done', { timeoutMs: 60_000 });
  const out: string[] = [];
  for (const doc of r.stdout.split(/\n(?=\{)/).filter((d) => d.trim())) {
    for (const [id, job] of Object.entries((JSON.parse(doc) as { Jobs?: Record<string, { Job_Name: string; job_state: string }> }).Jobs ?? {})) {
      if (job.job_state !== 'F' && JOB_NAME_SUFFIX.test(job.Job_Name) && jobDisplayName(job.Job_Name) === name) out.push(id);
    }
  }
  return out.sort();
}

export interface ProcessInfo {
  pid: number;
  comm: string;
  cmdline: string;
}

/** Processes of `uid` (zombies excluded), optionally only those whose environment has HOME=<home>. */
export function processesOf(uid: number, home?: string): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const status = readFileSync(`/proc/${name}/status`, 'utf8');
      if (Number(/^Uid:\s+\d+\s+(\d+)/m.exec(status)?.[1]) !== uid || /^State:\s+Z/m.test(status)) continue;
      if (home !== undefined && !readFileSync(`/proc/${name}/environ`, 'utf8').split('\0').includes(`HOME=${home}`)) continue;
      found.push({
        pid: Number(name),
        comm: /^Name:\s+(.*)$/m.exec(status)?.[1] ?? '',
        cmdline: readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ').trim(),
      });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** A sandbox with one small cluster reached over the ssh transport, and its config in a file for the CLI. */
export interface SandboxCluster {
  sb: Sandbox;
  pool: SshTransportPool;
  transport: Transport;
  cluster: Cluster;
  /** The config file (in a temporary directory of its own) the CLI is given. */
  config: string;
  /** Shuts the cluster down (its kernel too), closes the connection, stops the sandbox, removes the directory. */
  close(): Promise<void>;
}

/** The set-up most cluster tests share: `startSandbox`, a pool, the small cluster of `name` with `extraYaml`. */
export async function startSandboxCluster(user: string, name: string, extraYaml = '', options: Omit<SandboxOptions, 'user'> = {}): Promise<SandboxCluster> {
  const sb = await startSandbox({ ...options, user });
  const pool = new SshTransportPool({ prompt: refusingPrompt, agent: null, sshConfig: { configFile: sb.sshConfigPath, systemConfigFile: null } });
  const transport = pool.open(sb.alias);
  const yaml = smallClusterYaml(name, sb.alias, extraYaml);
  const cluster = new Cluster(transport, parseClusterConfig(yaml));
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  const config = join(dir, `${name}.dask-cluster.yaml`);
  writeFileSync(config, yaml);
  const close = async () => {
    try {
      await cluster.down();
    } finally {
      await pool.close();
      await sb.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  };
  return { sb, pool, transport, cluster, config, close };
}
