// The emulator's copy of Gadi's queue table (the queues qsub knows, the longest walltime), generated from the
// project's table so that the two cannot drift: emulator.test.ts checks the committed copy against this.
// Regenerate with `node --import tsx test/pbs-emulator/gadiQueues.ts`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GADI_MAX_WALLTIME_SECONDS, GADI_QUEUE_NAMES } from '../../src/core/config/queues';

export const GADI_QUEUES_PY = join(__dirname, 'bin', 'pbs_emulator', 'gadi_queues.py');

export function gadiQueuesPython(): string {
  return [
    '"""Gadi\'s queues, generated from src/core/config/queues.ts by test/pbs-emulator/gadiQueues.ts (do not edit)."""',
    '',
    'QUEUES = (',
    ...GADI_QUEUE_NAMES.map((name) => `    ${JSON.stringify(name)},`),
    ')',
    `MAX_WALLTIME_SECONDS = ${GADI_MAX_WALLTIME_SECONDS}`,
    '',
  ].join('\n');
}

if (require.main === module) writeFileSync(GADI_QUEUES_PY, gadiQueuesPython());
