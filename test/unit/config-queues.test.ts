import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  describeQueue, GADI_QUEUE_NAMES, GADI_QUEUES, gadiQueue, maxMemBytes, maxNcpus, maxWalltimeSeconds, nodesFor,
  suCost,
} from '../../src/core/config/queues';

const GiB = 2 ** 30;
const HOUR = 3600;

test('the queue table holds every Gadi queue with its node size and charge rate', () => {
  const expected: Record<string, [cores: number, memGiB: number, gpus: number, rate: number]> = {
    normal: [48, 192, 0, 2], express: [48, 192, 0, 6], hugemem: [48, 1470, 0, 3], megamem: [48, 2990, 0, 5],
    gpuvolta: [48, 382, 4, 3], normalbw: [28, 256, 0, 1.25], expressbw: [28, 256, 0, 3.75], normalsl: [32, 192, 0, 1.5],
    hugemembw: [28, 1020, 0, 1.25], megamembw: [64, 3000, 0, 1.25], dgxa100: [128, 2000, 8, 4.5],
    normalsr: [104, 500, 0, 2], expresssr: [104, 500, 0, 6], copyq: [1, 190, 0, 2],
  };
  assert.deepEqual([...GADI_QUEUE_NAMES].sort(), Object.keys(expected).sort());
  for (const q of GADI_QUEUES) {
    const [cores, mem, gpus, rate] = expected[q.name];
    assert.deepEqual([q.coresPerNode, q.memPerNode / GiB, q.gpusPerNode, q.suRate], [cores, mem, gpus, rate], q.name);
    const limits = q.walltimeTiers.map((t) => t.maxNcpus);
    assert.deepEqual(limits, [...limits].sort((a, b) => a - b), `${q.name} tiers ascend`);
    assert.ok(q.walltimeTiers.every((t) => t.hours <= 48), `${q.name} within 48 h`);
  }
  assert.equal(gadiQueue('gpuvolta')?.cpusPerGpu, 12);
  assert.equal(gadiQueue('dgxa100')?.cpusPerGpu, 16);
});

test('walltime limits depend on how many cores the job asks for', () => {
  const normal = gadiQueue('normal')!;
  assert.equal(maxWalltimeSeconds(normal, 48), 48 * HOUR);
  assert.equal(maxWalltimeSeconds(normal, 672), 48 * HOUR);
  assert.equal(maxWalltimeSeconds(normal, 720), 24 * HOUR);
  assert.equal(maxWalltimeSeconds(normal, 2976), 10 * HOUR);
  assert.equal(maxWalltimeSeconds(normal, 20736), 5 * HOUR);
  assert.equal(maxWalltimeSeconds(normal, 20784), undefined);
  assert.equal(maxNcpus(normal), 20736);
  const express = gadiQueue('express')!;
  assert.equal(maxWalltimeSeconds(express, 48), 24 * HOUR);
  assert.equal(maxWalltimeSeconds(express, 96), 5 * HOUR);
  assert.equal(maxWalltimeSeconds(gadiQueue('hugemembw')!, 56), 12 * HOUR);
});

test('queue lookups accept a queue@server destination and nothing unknown', () => {
  assert.equal(gadiQueue('normal@gadi-pbs')?.name, 'normal');
  assert.equal(gadiQueue('NormalSR')?.name, 'normalsr');
  assert.equal(gadiQueue('normall'), undefined);
  assert.equal(nodesFor(gadiQueue('normal')!, 96), 2);
  assert.equal(nodesFor(gadiQueue('normal')!, 1), 1);
  assert.equal(maxMemBytes(gadiQueue('normal')!, 96), 384 * GiB);
  assert.match(describeQueue(gadiQueue('gpuvolta')!), /48 cores and 382 GiB per node, 4 GPUs \(12 cores per GPU\).*3 SU/);
});

test('suCost is rate × max(ncpus, memory in per-core shares) × hours', () => {
  const normal = gadiQueue('normal')!;
  assert.equal(suCost({ queue: normal, ncpus: 48, memBytes: 192 * GiB, walltimeSeconds: HOUR }), 96);
  assert.equal(suCost({ queue: normal, ncpus: 4, memBytes: 16 * GiB, walltimeSeconds: 5 * HOUR }), 40);
  // Memory beyond the cores' share is charged: 8 cores with 128 GiB cost as 32 cores.
  assert.equal(suCost({ queue: normal, ncpus: 8, memBytes: 128 * GiB, walltimeSeconds: 5 * HOUR }), 320);
  // A 1-core job with a whole node's memory pays for the node.
  assert.equal(suCost({ queue: normal, ncpus: 1, memBytes: 192 * GiB, walltimeSeconds: HOUR }), 96);
  // Part of a per-core share counts as a whole share.
  assert.equal(suCost({ queue: normal, ncpus: 1, memBytes: 4 * GiB + 1, walltimeSeconds: HOUR }), 4);
  assert.equal(suCost({ queue: gadiQueue('express')!, ncpus: 8, memBytes: 16 * GiB, walltimeSeconds: 5 * HOUR }), 240);
  assert.equal(suCost({ queue: normal, ncpus: 2, walltimeSeconds: 1800 }), 2);
});
