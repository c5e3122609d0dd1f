// What the editor layers (vscode, ui, `npm run sandbox`) need to point the extension at the local sandbox cluster:
// user settings naming the sandbox's ssh config and known_hosts, and a small cluster config for the workspace.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SANDBOX_DASHBOARD_ADDRESS, SANDBOX_DASK_INTERFACE, type Sandbox } from '../sandbox/sandbox';

export const SANDBOX_CONFIG_FILE = 'sandbox.dask-cluster.yaml';

/** Settings (all machine-scoped) under which the extension connects to `sandbox` over ssh without asking anything. */
export function sandboxSettings(sandbox: Sandbox): Record<string, unknown> {
  return {
    'gadiDask.transport': 'ssh',
    'gadiDask.ssh.configFile': sandbox.sshConfigPath,
    'gadiDask.ssh.knownHostsFile': sandbox.knownHostsPath,
  };
}

/** The smallest cluster Dask runs: one core and 1 GB per job, Debian's python, on loopback (dashboards on any free port). */
export function sandboxClusterYaml(sandbox: Sandbox, name = 'sandbox', placement: 'job' | 'login' = 'job'): string {
  return [
    '# A small cluster on the local sandbox: one core and 1 GB per PBS job.',
    'connection:',
    `  host: ${sandbox.alias}`,
    'scheduler:',
    `  placement: ${placement}`,
    'jobqueue:',
    '  pbs:',
    `    name: ${name}`,
    '    cores: 1',
    '    memory: 1GB',
    "    walltime: '00:30:00'",
    '    python: /usr/bin/python3',
    '    death-timeout: 30',
    `    interface: ${SANDBOX_DASK_INTERFACE}`,
    `    worker-extra-args: ['--dashboard-address', '${SANDBOX_DASHBOARD_ADDRESS}']`,
    `    scheduler-options: {dashboard_address: '${SANDBOX_DASHBOARD_ADDRESS}'}`,
    '',
  ].join('\n');
}

/** Writes the sandbox's cluster config into `workspace`; returns its path. */
export function writeSandboxConfig(workspace: string, sandbox: Sandbox, name?: string): string {
  const path = join(workspace, SANDBOX_CONFIG_FILE);
  writeFileSync(path, sandboxClusterYaml(sandbox, name));
  return path;
}
