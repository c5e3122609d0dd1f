// Gadi's queues as data: the one place their limits and charge rates live. Lint rules, completion, hover and the
// cost shown before scaling all read this table. Memory sizes are bytes in PBS's binary units (192GB = 192 GiB).

const GiB = 2 ** 30;
const HOUR = 3600;

/** Jobs asking for at most `maxNcpus` cores may run for up to `hours`. */
export interface WalltimeTier {
  readonly hours: number;
  readonly maxNcpus: number;
}

export interface QueueInfo {
  readonly name: string;
  readonly summary: string;
  readonly coresPerNode: number;
  /** Memory a job may request per node, in bytes. */
  readonly memPerNode: number;
  readonly gpusPerNode: number;
  /** GPU queues: ncpus must be exactly this many cores per GPU requested. */
  readonly cpusPerGpu?: number;
  /** Sorted by maxNcpus ascending: the first tier whose maxNcpus covers the job gives its walltime limit. */
  readonly walltimeTiers: readonly WalltimeTier[];
  /** Service units charged per core-hour. */
  readonly suRate: number;
}

const tiers = (...pairs: [hours: number, maxNcpus: number][]): WalltimeTier[] =>
  pairs.map(([hours, maxNcpus]) => ({ hours, maxNcpus }));

export const GADI_QUEUES: readonly QueueInfo[] = [
  { name: 'normal', summary: 'Cascade Lake, normal priority', coresPerNode: 48, memPerNode: 192 * GiB, gpusPerNode: 0,
    walltimeTiers: tiers([48, 672], [24, 1440], [10, 2976], [5, 20736]), suRate: 2 },
  { name: 'express', summary: 'Cascade Lake, high priority for quick turnaround', coresPerNode: 48, memPerNode: 192 * GiB,
    gpusPerNode: 0, walltimeTiers: tiers([24, 48], [5, 3168]), suRate: 6 },
  { name: 'hugemem', summary: 'Cascade Lake, large memory', coresPerNode: 48, memPerNode: 1470 * GiB, gpusPerNode: 0,
    walltimeTiers: tiers([48, 48], [24, 96], [5, 192]), suRate: 3 },
  { name: 'megamem', summary: 'Cascade Lake, very large memory', coresPerNode: 48, memPerNode: 2990 * GiB,
    gpusPerNode: 0, walltimeTiers: tiers([48, 48], [24, 96]), suRate: 5 },
  { name: 'gpuvolta', summary: 'Cascade Lake with 4 NVIDIA V100 GPUs per node', coresPerNode: 48, memPerNode: 382 * GiB,
    gpusPerNode: 4, cpusPerGpu: 12, walltimeTiers: tiers([48, 96], [24, 192], [5, 960]), suRate: 3 },
  { name: 'normalbw', summary: 'Broadwell, normal priority', coresPerNode: 28, memPerNode: 256 * GiB, gpusPerNode: 0,
    walltimeTiers: tiers([48, 336], [24, 840], [10, 1736], [5, 10080]), suRate: 1.25 },
  { name: 'expressbw', summary: 'Broadwell, high priority', coresPerNode: 28, memPerNode: 256 * GiB, gpusPerNode: 0,
    walltimeTiers: tiers([24, 280], [5, 1848]), suRate: 3.75 },
  // The 24 h and 10 h tiers are NCI's published normalsl limits; the 48 h and 5 h ends are the ones we rely on most.
  { name: 'normalsl', summary: 'Skylake, normal priority', coresPerNode: 32, memPerNode: 192 * GiB, gpusPerNode: 0,
    walltimeTiers: tiers([48, 288], [24, 608], [10, 1984], [5, 3200]), suRate: 1.5 },
  { name: 'hugemembw', summary: 'Broadwell, large memory', coresPerNode: 28, memPerNode: 1020 * GiB, gpusPerNode: 0,
    walltimeTiers: tiers([48, 28], [12, 140]), suRate: 1.25 },
  { name: 'megamembw', summary: 'Broadwell, very large memory', coresPerNode: 64, memPerNode: 3000 * GiB, gpusPerNode: 0,
    walltimeTiers: tiers([48, 32], [12, 64]), suRate: 1.25 },
  { name: 'dgxa100', summary: 'AMD Rome with 8 NVIDIA A100 GPUs per node', coresPerNode: 128, memPerNode: 2000 * GiB,
    gpusPerNode: 8, cpusPerGpu: 16, walltimeTiers: tiers([48, 128], [5, 256]), suRate: 4.5 },
  { name: 'normalsr', summary: 'Sapphire Rapids, normal priority', coresPerNode: 104, memPerNode: 500 * GiB,
    gpusPerNode: 0, walltimeTiers: tiers([48, 1040], [24, 2080], [10, 4160], [5, 10400]), suRate: 2 },
  { name: 'expresssr', summary: 'Sapphire Rapids, high priority', coresPerNode: 104, memPerNode: 500 * GiB,
    gpusPerNode: 0, walltimeTiers: tiers([24, 1040], [5, 2080]), suRate: 6 },
  { name: 'copyq', summary: 'data transfer, with network access', coresPerNode: 1, memPerNode: 190 * GiB, gpusPerNode: 0,
    walltimeTiers: tiers([10, 1]), suRate: 2 },
];

export const GADI_QUEUE_NAMES: readonly string[] = GADI_QUEUES.map((q) => q.name);
/** Jobs with no `-q` go here. */
export const GADI_DEFAULT_QUEUE = 'normal';
/** No Gadi queue allows more. */
export const GADI_MAX_WALLTIME_SECONDS = 48 * HOUR;

/**
 * Jobs one user may have queued or running on Gadi at once, by default (the cluster config's `scheduler.max-jobs`
 * changes it). NCI's queue-limits page gives no number we could check; this one is public Gadi configurations'.
 */
export const GADI_MAX_JOBS_PER_USER = 300;
export const GADI_MAX_JOBS_SOURCE = 'the per-user cap of public Gadi workflow configurations ("Gadi exec max")';
/** qsubs a minute one user should send Gadi (nf-core's nci_gadi config): larger submissions are paced to it. */
export const GADI_SUBMISSIONS_PER_MINUTE = 20;

const byName = new Map(GADI_QUEUES.map((q) => [q.name, q]));

/** The queue named by `-q`; a `queue@server` destination names the same queue. */
export function gadiQueue(name: string): QueueInfo | undefined {
  return byName.get(name.split('@')[0].trim().toLowerCase());
}

/** The most cores a single job may request on the queue (its largest walltime tier). */
export function maxNcpus(queue: QueueInfo): number {
  return queue.walltimeTiers[queue.walltimeTiers.length - 1].maxNcpus;
}

/** The longest walltime (seconds) allowed for a job of `ncpus` cores, or undefined when no tier takes that many. */
export function maxWalltimeSeconds(queue: QueueInfo, ncpus: number): number | undefined {
  const tier = queue.walltimeTiers.find((t) => ncpus <= t.maxNcpus);
  return tier && Math.min(tier.hours * HOUR, GADI_MAX_WALLTIME_SECONDS);
}

/** Nodes a request of `ncpus` cores occupies. */
export function nodesFor(queue: QueueInfo, ncpus: number): number {
  return Math.max(1, Math.ceil(ncpus / queue.coresPerNode));
}

/** The most memory (bytes) a job of `ncpus` cores may request: its nodes' memory. */
export function maxMemBytes(queue: QueueInfo, ncpus: number): number {
  return nodesFor(queue, ncpus) * queue.memPerNode;
}

/** One core's share of a node's memory: memory is charged in these units. */
export function memPerCore(queue: QueueInfo): number {
  return queue.memPerNode / queue.coresPerNode;
}

export interface CostRequest {
  queue: QueueInfo;
  ncpus: number;
  /** Requested memory in bytes; omitted means it does not raise the charge. */
  memBytes?: number;
  walltimeSeconds: number;
}

/** Service units for one job: rate × max(ncpus, memory in whole per-core shares) × walltime hours. */
export function suCost({ queue, ncpus, memBytes, walltimeSeconds }: CostRequest): number {
  const memShares = memBytes === undefined ? 0 : Math.ceil(memBytes / memPerCore(queue));
  return queue.suRate * Math.max(ncpus, memShares) * (walltimeSeconds / HOUR);
}

/** A one-line description of a queue for hover and completion. */
export function describeQueue(queue: QueueInfo): string {
  const gpus = queue.gpusPerNode ? `, ${queue.gpusPerNode} GPUs (${queue.cpusPerGpu} cores per GPU)` : '';
  const limits = queue.walltimeTiers.map((t) => `${t.hours} h up to ${t.maxNcpus} cores`).join(', ');
  return `${queue.name}: ${queue.summary}. ${queue.coresPerNode} cores and ${queue.memPerNode / GiB} GiB per node${gpus}; ` +
    `walltime ${limits}; ${queue.suRate} SU per core-hour.`;
}
