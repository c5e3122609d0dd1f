// The JSON documents the runtime prints (runtime/README.md), checked with zod. Loose objects: a newer runtime may
// add keys; only what the lifecycle reads is required, and nullable where the runtime prints null.
import { z } from 'zod';
import { RemoteOutputError } from './errors';
import { excerptOf } from './output';

const num = z.number().nullish();
const str = z.string().nullish();

// `tls`: behind the runtime's door (dashboard_door.py): reached only with the cluster's keys (Cluster.forwardDashboard).
export const dashboardSchema = z.looseObject({ host: z.string(), port: z.number(), url: z.string(), tls: z.boolean().optional() });
export type DashboardInfo = z.output<typeof dashboardSchema>;

/** `runtime.json`, the launcher's metadata (also `metadata` in error documents). */
export const metadataSchema = z.looseObject({
  cluster: str,
  state: z.enum(['starting', 'running', 'stopping', 'stopped', 'failed']).or(z.string()).nullish(),
  pid: num,
  host: str,
  placement: str,
  pbsJobId: str,
  startedAt: str,
  runtimeVersion: str,
  python: str,
  daskVersion: str,
  distributedVersion: str,
  idleTimeout: num,
  address: str,
  schedulerId: str,
  dashboard: dashboardSchema.nullish(),
  log: str,
  stoppedAt: str,
  stopReason: str,
  error: str,
});
export type RuntimeMetadata = z.output<typeof metadataSchema>;

export const workerSchema = z.looseObject({
  name: z.string(),
  address: z.string(),
  host: str,
  nthreads: num,
  memory: z.looseObject({ used: num, managed: num, limit: num }).nullish(),
  processing: num,
  status: str,
  lastSeen: str,
  pbsJobId: str,
  jobName: str,
  index: num,
});
export type WorkerStatus = z.output<typeof workerSchema>;

// adapt-state.json: the scheduler's controller, holding Scale's size (hold) or adapting between min and max.
export const adaptiveSchema = z.looseObject({
  enabled: z.boolean(),
  hold: z.boolean().nullish(),
  min: num,
  max: num,
  threadsPerJob: num,
  running: num,
  queued: num,
  replacementsQueued: num,
  nextExpiry: str,
  givenUp: z.looseObject({ reason: z.string(), job: str, errorText: str }).nullish(),
  jobs: z.array(z.looseObject({ id: z.string(), state: z.string() })).default([]),
  lastDecision: z.looseObject({ target: num, reason: str }).nullish(),
  error: str,
  backoffUntil: str,
});
export type AdaptiveStatus = z.output<typeof adaptiveSchema>;

const taskCounts = z.looseObject({ total: num, processing: num, queued: num, unrunnable: num });

export const statusOkSchema = z.looseObject({
  ok: z.literal(true),
  cluster: str,
  source: str,
  via: str,
  time: str,
  scheduler: z.looseObject({
    id: str,
    address: z.string(),
    threads: num,
    clients: num,
    tasks: taskCounts.nullish(),
    idle: z.looseObject({ timeoutSeconds: num, idleSince: str, stopsAt: str }).nullish(),
    pid: num,
    host: str,
    startedAt: str,
    uptimeSeconds: num,
    pbsJobId: str,
    placement: str,
    /** Placement persistent-session: the session (name, project, host). */
    session: z.looseObject({ name: z.string(), host: str }).nullish(),
    runtimeVersion: str,
    daskVersion: str,
    distributedVersion: str,
    python: str,
  }),
  dashboard: dashboardSchema.nullish(),
  workers: z.array(workerSchema),
  adaptive: adaptiveSchema.nullish(),
});
export type StatusOk = z.output<typeof statusOkSchema>;

export const errorDocSchema = z.looseObject({
  ok: z.literal(false),
  code: z.string(),
  error: z.string(),
  metadata: metadataSchema.nullish(),
  address: str,
  stale: z.boolean().nullish(),
  log: z.union([z.array(z.string()), z.string()]).nullish(),
});
export type ErrorDoc = z.output<typeof errorDocSchema>;

export const statusDocSchema = z.union([statusOkSchema, errorDocSchema]);

export const envDocSchema = z.union([
  z.looseObject({ ok: z.literal(true), runtimeVersion: str, python: str, pythonVersion: str, daskVersion: str, distributedVersion: str }),
  errorDocSchema,
]);

export const installerDocSchema = z.union([
  z.looseObject({
    ok: z.literal(true),
    action: z.enum(['check', 'installed', 'already-installed', 'hash']),
    version: str,
    hash: str,
    installed: z.boolean().nullish(),
    installedHash: str,
    replaced: z.boolean().nullish(),
    path: str,
  }),
  errorDocSchema,
]);

export const startDocSchema = z.union([metadataSchema.extend({ ok: z.literal(true), action: z.literal('started') }), errorDocSchema]);

export const listEntrySchema = z.looseObject({
  name: z.string(),
  state: str,
  address: str,
  dashboard: dashboardSchema.nullish(),
  pid: num,
  host: str,
  pbsJobId: str,
  placement: str,
  startedAt: str,
  stoppedAt: str,
  stopReason: str,
  runtimeVersion: str,
  schedulerFile: z.boolean(),
  adapt: z.looseObject({ min: num, max: num }).nullish(),
  processAlive: z.boolean().nullish(),
});
export type ListEntry = z.output<typeof listEntrySchema>;
export const listDocSchema = z.union([z.looseObject({ ok: z.literal(true), clusters: z.array(listEntrySchema) }), errorDocSchema]);

const qdelMap = z.union([z.record(z.string(), z.string()), z.looseObject({ error: z.string() })]).nullish();

export const shutdownDocSchema = z.union([
  z.looseObject({
    ok: z.literal(true),
    wasRunning: z.boolean(),
    stopped: z.boolean(),
    address: str,
    workers: z.array(z.string()).default([]),
    retired: z.array(z.string()).default([]),
    workerJobIds: z.array(z.string()).default([]),
    schedulerJobId: str,
    jobIds: z.array(z.string()).default([]),
    warnings: z.array(z.string()).default([]),
  }),
  errorDocSchema,
]);

export const retireDocSchema = z.looseObject({
  ok: z.boolean(),
  chosen: z.array(z.string()).default([]),
  workers: z.record(z.string(), z.array(z.string())).default({}),
  retired: z.array(z.string()).default([]),
  notRetired: z.array(z.string()).default([]),
  qdel: qdelMap,
  warnings: z.array(z.string()).default([]),
  code: str,
  error: str,
});

/** Checks a runtime document against its schema; a mismatch is a RemoteOutputError naming the first problem. */
export function checkDoc<T extends z.ZodType>(schema: T, doc: unknown, what: string): z.output<T> {
  const r = schema.safeParse(doc);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue?.path.length ? issue.path.join('.') : 'the document';
  throw new RemoteOutputError(
    `The result of ${what} does not have the expected shape (at ${where}: ${issue?.message ?? 'invalid'}); is the ` +
      `runtime on the cluster from another version? Got ${excerptOf(JSON.stringify(doc))}`,
    excerptOf(JSON.stringify(doc)),
  );
}
