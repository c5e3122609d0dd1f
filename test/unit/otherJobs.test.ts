// listOtherJobs reading canned output: banners ignored, a qstat failure and a cut-off answer told apart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PbsUnavailableError, RemoteOutputError } from '../../src/core/cluster/errors';
import { listOtherJobs, otherJobsScript } from '../../src/core/cluster/otherJobs';
import { shellQuote } from '../../src/core/remote/shellQuote';
import type { Transport } from '../../src/core/remote/transport';

const M = 'GADI-DASK-test';

function answering(stdout: string): { transport: Transport; commands: string[] } {
  const commands: string[] = [];
  const transport = {
    host: 'gadi',
    exec: async (command: string) => {
      commands.push(command);
      return { stdout, stderr: '', code: 0 };
    },
  } as unknown as Transport;
  return { transport, commands };
}

const JSON_BODY = '{"pbs_version":"23.06.06","Jobs":{"7.gadi-pbs":{"Job_Name":"a","Job_Owner":"u@h","job_state":"Q","queue":"normal"},'
  + '"8.gadi-pbs":{"Job_Name":"b","Job_Owner":"u@h","job_state":"R","queue":"normal"}}}';

test('the jobs between the markers, banners ignored, excluded ids left out', async () => {
  const { transport, commands } = answering(`Welcome to Gadi\n${M}:begin\n\n${M}:list:0\n\n${M}:json\n${JSON_BODY}\n\n${M}:end\n`);
  const jobs = await listOtherJobs(transport, { marker: M, exclude: ['8.gadi-pbs'] });
  assert.deepEqual(jobs.map((j) => [j.id, j.name, j.state]), [['7.gadi-pbs', 'a', 'Q']]);
  assert.equal(commands.length, 1);
  assert.equal(commands[0].split('\n')[0], `gd_m=${shellQuote(M)}`, 'the marker goes through shellQuote');
});

test('qstat failing is PbsUnavailableError with what it said; a cut-off answer is RemoteOutputError', async () => {
  await assert.rejects(listOtherJobs(answering(`${M}:begin\n${M}:list:3\nqstat: cannot connect to server gadi-pbs\n${M}:end\n`).transport, { marker: M }),
    (e: unknown) => e instanceof PbsUnavailableError && /status 3.*cannot connect/.test(e.message));
  await assert.rejects(listOtherJobs(answering(`${M}:begin\n${M}:list:0\n${M}:json\n{"Jobs":`).transport, { marker: M }), RemoteOutputError);
});

test('the script lists the ids with qstat -w -u and describes them with one qstat -f -F json', () => {
  const s = otherJobsScript(M);
  assert.match(s, /qstat -w -u "\$\(id -un\)"/);
  assert.match(s, /qstat -f -F json \$ids/);
});
