// The PBS Jobs view's context values: what package.json's menus match with `viewItem` (and its keybindings with
// SELECTION_CONTEXT_KEY). Built here only, with the list of every value the tree can give, so a unit test can hold
// the menus against it (no vscode import here).
import type { JobRole as ClusterJobRole, SchedulerState } from '../core/cluster';
import type { PbsPhase } from '../core/pbs/states';

/** A cluster's job by its role, or a job of no cluster of this workspace. */
export type JobRole = ClusterJobRole | 'other';
export type Severity = 'error' | 'warning' | 'info' | 'loading';
export type ClusterRowState = SchedulerState | 'loading';

const ROLES = ['scheduler', 'worker', 'kernel', 'other'] as const satisfies readonly JobRole[];
const _allRoles: JobRole extends (typeof ROLES)[number] ? true : never = true; // a new role gets its menus too
void _allRoles;
const PHASES = ['pending', 'running', 'finished', 'unknown'] as const satisfies readonly PbsPhase[];
const CLUSTER_STATES = ['running', 'starting', 'queued', 'unreachable', 'stopped', 'not-deployed', 'unknown', 'loading'] as const satisfies readonly ClusterRowState[];
const SEVERITIES = ['error', 'warning', 'info', 'loading'] as const satisfies readonly Severity[];

export const jobContext = (role: JobRole, phase: PbsPhase) => `job.${role}.${phase}`;
export const clusterContext = (state: ClusterRowState, dashboard: boolean, adaptive: boolean) =>
  `cluster.${state}${dashboard ? '.dashboard' : ''}${adaptive ? '.adaptive' : ''}`;
export const foundClusterContext = (running: boolean) => `foundCluster.${running ? 'running' : 'stopped'}`;
export const messageContext = (severity: Severity) => `message.${severity}`;
export const WORKER_CONTEXT = 'worker';
export const FINISHED_JOBS_CONTEXT = 'finishedJobs';
export const OTHER_JOBS_CONTEXT = 'otherJobs';
/** The context key holding the selected node's context value, for package.json's keybindings (`viewItem` is menus' only). */
export const SELECTION_CONTEXT_KEY = 'gadiDask.jobs.selection';

/** Every context value a node of the view can carry. */
export function allContextValues(): string[] {
  const out = [WORKER_CONTEXT, FINISHED_JOBS_CONTEXT, OTHER_JOBS_CONTEXT, foundClusterContext(true), foundClusterContext(false)];
  for (const role of ROLES) for (const phase of PHASES) out.push(jobContext(role, phase));
  for (const state of CLUSTER_STATES) for (const d of [false, true]) for (const a of [false, true]) out.push(clusterContext(state, d, a));
  for (const s of SEVERITIES) out.push(messageContext(s));
  return out;
}
