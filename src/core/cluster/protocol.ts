// The protocol between this client and the agent on the cluster (runtime/gadi_dask/agent.py): one JSON request a
// line on the agent's stdin, one framed JSON answer a line on its stdout (`<FRAME> <json>`). Progress lines carry
// the request's id and `progress`; the answer carries the id and `ok`. Everything else on stdout (a login banner,
// a module message) is noise. This module owns the protocol's facts; runtime/gadi_dask/protocol.py holds a copy
// that test/unit/agentProtocol.test.ts proves equal.
import { z } from 'zod';

export const PROTOCOL_VERSION = 1;
export const FRAME = '@@GADI_DASK_AGENT@@';
export const OPS = ['hello', 'apply', 'snapshot', 'down', 'cancel', 'probe', 'discover', 'user-jobs', 'history', 'qdel', 'workers', 'stop', 'run', 'kernel'] as const;
export type Op = (typeof OPS)[number];
/** The role of the kernel's job (op_kernel.py) in its own journal and in a snapshot's answer: never a worker's. */
export const KERNEL_ROLE = 'kernel' as const;
/** down's option that leaves the kernel next to the cluster running (without it, down stops the kernel too). */
export const KEEP_KERNEL = 'keepKernel' as const;

export interface LockArgs {
  /** Names this client in another client's "locked" answer. */
  client: string;
  lockWait: number;
  /** Seconds after which others may break the lock (this call's own deadline). */
  lockTtl: number;
}

/** The launcher's options for a login-node scheduler (run.py scheduler --config). */
export type LaunchOptions = Record<string, string | number>;

/** The config's persistent session (scheduler.session). */
export interface SessionRef {
  name: string;
  project: string;
}

/** What the scheduler's controller needs besides the size (adapt.json, runtime/README.md). */
export interface ControllerRequest {
  threadsPerJob: number;
  jobScript: string;
  qsubArgs: string[];
  /** When a job's workers retire (seconds): the controller submits a successor a queue wait ahead. */
  expiry: { lifetime: number | null; stagger: number | null; walltime: number | null };
}

export interface ApplyArgs extends LockArgs {
  cluster: string;
  workerScript: string;
  /** tls: make the cluster's new keys before the scheduler (and any job naming them) starts. */
  ensureScheduler?: (
    | { placement: 'job'; script: string }
    | { placement: 'login'; launch: LaunchOptions }
    // The prologue and python go to the session's shell on its stdin (runtime/session.sh).
    | { placement: 'persistent-session'; launch: LaunchOptions; session: SessionRef; prologue: string[]; python: string }
  ) & { tls?: boolean };
  scaleTo?: number;
  /** With scaleTo 0: how long to wait for cancelled jobs to leave PBS. */
  waitSeconds?: number;
  /** adapt.json without its `jobs` (the agent adds the live worker jobs), or 'off'. */
  adapt?: Record<string, unknown> | 'off';
  /** With scaleTo above 0: the controller's request for holding that size (adapt.json without min, max and jobs). */
  hold?: ControllerRequest;
  /**
   * The per-user job ceiling (ceiling.ts): a request that would submit jobs is refused ("ceiling") before any qsub
   * when the user's live jobs and the new ones would pass it.
   */
  maxJobs?: number;
  /** qsubs a minute after the first burst of a large scale (default Gadi's, GADI_SUBMISSIONS_PER_MINUTE). */
  submitRate?: number;
}

export interface RequestArgs {
  hello: Record<string, never>;
  apply: ApplyArgs;
  snapshot: { cluster: string; probeTimeout: number; client: string };
  down: LockArgs & { cluster: string; shutdownTimeout: number; purge: boolean; waitSeconds: number; [KEEP_KERNEL]: boolean };
  cancel: LockArgs & { cluster: string; ids: string[] };
  probe: { cluster: string; jobId?: string };
  discover: Record<string, never>;
  'user-jobs': { exclude: string[] };
  history: { cluster: string; client: string };
  /** The user's jobs of no cluster (a cluster's job is refused: it goes through `cancel`). */
  qdel: { ids: string[] };
  /**
   * Waits on the scheduler alone (never PBS) until its workers differ from `seen` (a snapshot's or the last wait's
   * `workersSeen`, handed back as it came), `waitSeconds` (at most 60) pass, or a stop; answers its status document.
   */
  workers: { cluster: string; seen: unknown; waitSeconds: number; probeTimeout: number };
  /** Asks the running request `request` to stop between two PBS actions; answered at once, beside it. */
  stop: { request: number };
  /**
   * A Python file submitted as a job of its own (runFile.ts): written with its job script into
   * `<cluster dir>/runs/<runId>/`, the qsub journaled there. Refused when the cluster has no scheduler file.
   */
  run: { cluster: string; runId: string; fileName: string; source: string; script: string };
  /**
   * The Jupyter server next to the cluster (kernel.ts): `start` checks the python for jupyter_server and ipykernel,
   * writes a new token (0600) and the script into `<cluster dir>/kernel/`, and submits it (placement job) or runs it
   * detached (login); `status` says where it listens (never the token); `stop` cancels it, or with `jobId` that job
   * only, and only while it is the kernel's live job; with `waitSeconds` (at most 120) it answers once the job has left
   * PBS, or with it in `exiting`.
   */
  kernel:
    | (LockArgs & { cluster: string; action: 'start'; placement: 'job' | 'login'; python: string; script: string })
    | { cluster: string; action: 'status' }
    | { cluster: string; action: 'stop'; jobId?: string; waitSeconds?: number };
}

export function encodeRequest<O extends Op>(id: number, op: O, args: RequestArgs[O]): string {
  return `${JSON.stringify({ v: PROTOCOL_VERSION, id, op, args })}\n`;
}

// ---- answers ----------------------------------------------------------------------------------------------------

const doc = z.record(z.string(), z.unknown());
const str = z.string().nullish();

export const failureSchema = z.looseObject({
  ok: z.literal(false),
  code: z.string(),
  error: z.string(),
  owner: str,
  agentProtocol: z.number().nullish(),
  qsub: z.looseObject({ rc: z.number().nullable(), stdout: z.string(), stderr: z.string() }).nullish(),
  env: doc.nullish(),
  rc: z.number().nullish(),
  output: str,
  prologue: str,
  /** code "pbs": PBS's server did not answer (not PBS printing something else). */
  unreachable: z.boolean().nullish(),
  /** code "ceiling": the user's live jobs (every one, PBS's count) and those the request would add. */
  userJobs: z.number().nullish(),
  adding: z.number().nullish(),
});
export type Failure = z.output<typeof failureSchema>;

const qsubFailure = z.looseObject({ rc: z.number().nullable(), stdout: z.string(), stderr: z.string() });
export type QsubFailure = z.output<typeof qsubFailure>;

export const cancelledSchema = z.looseObject({
  id: z.string(),
  outcome: z.enum(['deleted', 'gone', 'error']),
  message: z.string().optional(),
  /** qdel's own exit status (the qdel operation runs one qdel per id). */
  exitCode: z.number().nullish(),
  /** qdel: the cluster whose job this is (refused; cancel it through the cluster). */
  cluster: z.string().optional(),
  retiredWorkers: z.array(z.string()).optional(),
});

/** A persistent session as the agent found or started it: `started` when this request started it. */
export const sessionSchema = z.looseObject({ name: z.string(), project: z.string(), host: z.string(), started: z.boolean(), id: z.string().nullish() });
export type SessionInfo = z.output<typeof sessionSchema>;

const schedulerAction = z.discriminatedUnion('kind', [
  z.looseObject({ kind: z.literal('job-exists'), jobId: z.string(), state: z.string() }),
  z.looseObject({ kind: z.literal('answers'), status: doc }),
  z.looseObject({ kind: z.literal('submitted'), jobId: z.string() }),
  z.looseObject({ kind: z.literal('started-login'), start: doc.nullable(), output: z.string() }),
  z.looseObject({ kind: z.literal('started-session'), start: doc.nullable(), output: z.string(), session: sessionSchema }),
]);

const journalJob = z.looseObject({
  id: z.string(),
  role: z.enum(['scheduler', 'worker']),
  name: str,
  submitted: z.number().nullish(),
  finished: z.number().nullish(),
  cancelled: z.number().nullish(),
  adopted: z.boolean().optional(),
});
export type JournalJob = z.output<typeof journalJob>;
/** A job of the kernel's own journal (`<cluster dir>/kernel/`), which a snapshot shows beside the cluster's. */
const kernelJob = journalJob.extend({ role: z.literal(KERNEL_ROLE) });
export type KernelJournalJob = z.output<typeof kernelJob>;

/** One job of history.jsonl: its newest qstat attributes (qstat's own shape), peaks over every sample. */
const historyJob = z.looseObject({
  id: z.string(),
  role: z.enum(['scheduler', 'worker']),
  attrs: doc,
  peak: z.record(z.string(), z.string()).default({}),
  /** Highest memory (bytes) each Dask worker of the job reported to the scheduler. */
  workers: z.record(z.string(), z.number()).default({}),
  firstSeen: z.number().nullish(),
  lastSeen: z.number().nullish(),
  samples: z.number(),
});
export type HistoryJob = z.output<typeof historyJob>;

const ok = z.literal(true);
const warnings = z.array(z.string()).default([]);

export const answerSchemas = {
  hello: z.looseObject({ ok, runtimeVersion: z.string(), python: z.string(), pythonVersion: z.string() }),
  apply: z.looseObject({
    ok,
    before: z.array(z.object({ id: z.string(), state: z.string(), role: z.enum(['scheduler', 'worker']) })),
    adaptWasOn: z.boolean().optional(),
    adaptAdopted: z.number().optional(),
    scheduler: schedulerAction.optional(),
    scale: z.object({ before: z.number(), queued: z.number(), running: z.number(), target: z.number() }).optional(),
    submitted: z.array(z.string()),
    submitErrors: z.array(qsubFailure),
    cancelled: z.array(cancelledSchema),
    exiting: z.array(z.string()).default([]),
    /** The client asked it to stop: it did, between two PBS actions, and this is what it had done. */
    stopped: z.boolean().optional(),
    /** The size the scheduler's controller now holds (scale). */
    holding: z.number().optional(),
    warnings,
  }),
  snapshot: z.union([
    z.looseObject({ ok, exists: z.literal(false) }),
    z.looseObject({
      ok,
      exists: z.literal(true),
      jobs: z.array(journalJob),
      /** The kernel's jobs, live or ended within a day; their PBS attributes are in `qstat` with the others'. */
      kernelJobs: z.array(kernelJob).default([]),
      adaptive: z.array(z.string()),
      qstat: z.string(),
      status: doc.nullable(),
      workersSeen: z.unknown().optional(),
      statusRc: z.number().nullable(),
      statusStderr: z.string(),
      prologue: z.string(),
      warnings,
    }),
  ]),
  down: z.union([
    z.looseObject({ ok, existed: z.literal(false) }),
    z.looseObject({
      ok,
      existed: z.literal(true),
      shutdown: doc.nullable(),
      shutdownOutput: z.string().optional(),
      /** The persistent session the scheduler ran in: left running. */
      session: sessionSchema.partial().optional(),
      cancelled: z.array(cancelledSchema),
      exiting: z.array(z.string()),
      purged: z.boolean(),
      /** The kernel next to the cluster: what was stopped, or what still runs because the request kept it. */
      kernel: z.looseObject({ stopped: z.array(z.string()), errors: z.array(z.string()), kept: z.array(z.string()).default([]) }).optional(),
      warnings,
    }),
  ]),
  cancel: z.looseObject({
    ok, noCluster: z.boolean().optional(), cancelled: z.array(cancelledSchema), holding: z.number().optional(), warnings,
  }),
  probe: z.union([
    z.looseObject({ ok, exists: z.literal(false) }),
    z.looseObject({
      ok, exists: z.literal(true), meta: z.unknown(), schedulerFile: z.boolean(), runlog: z.string(),
      qstat: z.string().optional(), log: z.string().optional(),
    }),
  ]),
  discover: z.looseObject({ ok, list: doc, jobs: z.record(z.string(), z.array(journalJob)) }),
  'user-jobs': z.looseObject({ ok, qstat: z.string() }),
  history: z.union([
    z.looseObject({ ok, exists: z.literal(false) }),
    z.looseObject({ ok, exists: z.literal(true), jobs: z.array(historyJob), warnings }),
  ]),
  qdel: z.looseObject({ ok, cancelled: z.array(cancelledSchema) }),
  workers: z.looseObject({ ok, status: doc.nullable(), workersSeen: z.unknown().optional() }),
  stop: z.looseObject({ ok, stopping: z.boolean() }),
  run: z.looseObject({ ok, jobId: z.string(), runDir: z.string(), output: z.string() }),
  kernel: z.looseObject({
    ok,
    state: z.enum(['none', 'queued', 'starting', 'running']).optional(),
    jobId: str, jobState: str, comment: str, pid: z.number().nullish(),
    host: str, port: z.number().nullish(), node: str, startedAt: str,
    existing: z.boolean().optional(),
    stopped: z.array(z.string()).optional(), errors: z.array(z.string()).optional(), exiting: z.array(z.string()).optional(),
  }),
} satisfies Record<Op, z.ZodType>;

export type Answer<O extends Op> = z.output<(typeof answerSchemas)[O]>;

/** One line of the agent's stdout: a frame (progress or answer, not yet checked), or undefined for noise. */
export function readFrame(line: string): { id: unknown; progress?: string; body: Record<string, unknown> } | undefined {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (!text.startsWith(`${FRAME} `)) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(text.slice(FRAME.length + 1));
  } catch {
    return undefined; // a frame cut by the end of the output; the caller reports the missing answer
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const b = body as Record<string, unknown>;
  return { id: b.id, progress: typeof b.progress === 'string' ? b.progress : undefined, body: b };
}
