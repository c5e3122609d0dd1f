// Finding the clusters already on an account when a connection opens: the agent lists them from their files (no
// network) with each one's journal, in one exec.
import { DEFAULT_PYTHON } from '../pbs/jobScript';
import type { Transport } from '../remote/transport';
import { AgentClient } from './agent';
import { failureError } from './answers';
import type { ActionOptions } from './actions';
import { Deployer } from './deployer';
import { RemoteCommandError } from './errors';
import { checkDoc, listDocSchema, type ListEntry } from './runtimeDocs';
import { loadRuntimeBundle, type RuntimeBundle } from './runtimeBundle';
import { jobRecords, type JobRecord } from './snapshot';

export interface DiscoveredCluster extends ListEntry {
  /** The jobs the cluster's journal records (not checked against qstat: status does that). */
  jobs: JobRecord[];
  /** The scheduler file is there and runtime.json says it runs (on a login node: and its process is alive). */
  running: boolean;
}

export interface AccountOptions extends ActionOptions {
  /** The python to run the agent with (3.8 or newer); default python3. */
  python?: string;
  prologue?: readonly string[];
  runtime?: RuntimeBundle;
  /** Shares the deployment with the connection's clusters. */
  deployer?: Deployer;
  /** Shares the connection's agent (ClusterManager.agent). */
  agent?: AgentClient;
}
export type DiscoverOptions = AccountOptions;

/** An agent for account-wide requests (no cluster config at hand). */
export function accountAgent(transport: Transport, options: AccountOptions) {
  const runtime = options.runtime ?? options.deployer?.runtime ?? loadRuntimeBundle();
  const deployer = options.deployer ?? new Deployer(transport, runtime);
  const agent = options.agent ?? new AgentClient(transport, runtime, () => deployer.deploy(options));
  const env = { prologue: options.prologue ?? [], python: options.python ?? DEFAULT_PYTHON };
  const context = { cluster: '-', host: transport.host, python: env.python };
  return { agent, env, context };
}

export async function discoverClusters(transport: Transport, options: DiscoverOptions = {}): Promise<DiscoveredCluster[]> {
  const { agent, env, context } = accountAgent(transport, options);
  let answer;
  try {
    answer = await agent.call('discover', {}, env, { timeoutMs: 60_000, signal: options.signal }, 'listing the clusters');
  } catch (e) {
    throw failureError(e, context);
  }
  const doc = checkDoc(listDocSchema, answer.list, 'run.py list');
  if (!doc.ok) throw new RemoteCommandError(`Listing the clusters on ${transport.host} failed (${doc.code}): ${doc.error}`, doc.code);
  return doc.clusters.map((c) => ({
    ...c,
    jobs: jobRecords(answer.jobs[c.name] ?? []),
    running: c.schedulerFile && c.state === 'running' && c.processAlive !== false,
  }));
}
