// Shared by the cluster acceptance test and the cluster benchmarks: a Transport wrapper that counts round trips,
// the small cluster config they run, and a look at the processes a user has left.
import { readdirSync, readFileSync } from 'node:fs';
import type { ExecOptions, ExecResult, SpawnOptions, Transport } from '../../src/core/remote/transport';
import { SANDBOX_DASHBOARD_ADDRESS, SANDBOX_DASK_INTERFACE } from './sandbox';

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
  forward(remoteHost: string, remotePort: number, localPort?: number) {
    return this.inner.forward(remoteHost, remotePort, localPort);
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
