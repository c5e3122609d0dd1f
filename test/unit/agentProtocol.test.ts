// The agent's copy of the protocol (runtime/gadi_dask/protocol.py) and of PBS's JSON repair (pbsjson.py) agree
// with this side's (protocol.ts, pbs/submit.ts, cluster/names.ts, pbs/jsonRepair.ts): asked of Python itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CLUSTER_NAME, JOB_NAME_SUFFIX, TLS_CERT_FILE, TLS_KEY_FILE } from '../../src/core/cluster/names';
import { PROJECT_NAME, SESSION_NAME } from '../../src/core/config/schema';
import { FRAME, KEEP_KERNEL, KERNEL_ROLE, OPS, PROTOCOL_VERSION } from '../../src/core/cluster/protocol';
import { KERNEL_DIR, KERNEL_SCRIPT_FILE } from '../../src/core/cluster/kernel';
import { repairJson } from '../../src/core/pbs/jsonRepair';
import { JOB_ID } from '../../src/core/pbs/submit';
import { PBS_SAMPLES as SAMPLES } from '../fixtures/paths';

const RUNTIME = resolve(__dirname, '..', '..', 'runtime');

function python(script: string, input = ''): string {
  return execFileSync('python3', ['-c', script], { cwd: RUNTIME, input, encoding: 'utf8' });
}

test('protocol.py holds the same version, frame, operations and patterns as this side', () => {
  const py = JSON.parse(python(
    'import json; from gadi_dask import protocol as p; print(json.dumps({"v": p.PROTOCOL_VERSION, "frame": p.FRAME, ' +
      '"ops": list(p.OPS), "job": p.JOB_ID.pattern, "name": p.CLUSTER_NAME.pattern, "suffix": p.JOB_NAME_SUFFIX.pattern, ' +
      '"session": p.SESSION_NAME.pattern, "project": p.PROJECT_NAME.pattern, "kernelRole": p.KERNEL_ROLE, "keepKernel": p.KEEP_KERNEL}))'));
  assert.deepEqual(py, {
    v: PROTOCOL_VERSION, frame: FRAME, ops: [...OPS], job: JOB_ID.source, name: CLUSTER_NAME.source, suffix: JOB_NAME_SUFFIX.source,
    session: SESSION_NAME.source, project: PROJECT_NAME.source, kernelRole: KERNEL_ROLE, keepKernel: KEEP_KERNEL,
  });
});

test('common.py names the cluster\'s TLS files as this side does', () => {
  const py = JSON.parse(python('import json; from gadi_dask import common as c; print(json.dumps([c.TLS_CERT_FILE, c.TLS_KEY_FILE]))'));
  assert.deepEqual(py, [TLS_CERT_FILE, TLS_KEY_FILE]);
});

test('the kernel\'s directory and job script have the names this side reads them by', () => {
  const py = JSON.parse(python('import json; from gadi_dask import kernel as k, op_kernel as o; print(json.dumps([k.KERNEL_DIR, o.KERNEL_SCRIPT]))'));
  assert.deepEqual(py, [KERNEL_DIR, KERNEL_SCRIPT_FILE]);
});

test('a qsub answer gives a job id only when it is nothing but one id of a server\'s form, which this side accepts too', () => {
  const cases = ['123.gadi-pbs\n', '6[].gadi-pbs\n', ' 45[2].gadi-pbs \n\n', 'Job submitted: 123.gadi-pbs', '123.gadi-pbs\n99.gadi-pbs\n',
    'Project ab12 has 12345.67 KSU left\n', '12345.67\n', '123\n', 'no id here', ''];
  const py: Array<string | null> = JSON.parse(python('import json,sys; from gadi_dask.pbs import answer_id; print(json.dumps([answer_id(s) for s in json.load(sys.stdin)]))', JSON.stringify(cases)));
  assert.deepEqual(py, ['123.gadi-pbs', '6[].gadi-pbs', '45[2].gadi-pbs', null, null, null, null, null, null, null]);
  for (const found of py) if (found !== null) assert.match(found, JOB_ID);
});

test('pbsjson repairs what PBS prints exactly as jsonRepair.ts does, on every sample and on seeded garbage', () => {
  const texts = readdirSync(SAMPLES).filter((f) => f.endsWith('.json')).map((f) => readFileSync(join(SAMPLES, f), 'utf8'));
  let seed = 20261202;
  const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const alphabet = ['"', '\\', ',', ':', '{', '}', '[', ']', ' ', '\t', '\n', 'a', '0', '8', '-', '.', 'e', 'u', 'true', 'null', '\\,', 'é'];
  for (let i = 0; i < 400; i++) {
    let s = '';
    const n = Math.floor(next() * 40);
    for (let j = 0; j < n; j++) s += alphabet[Math.floor(next() * alphabet.length)];
    texts.push(s);
  }
  texts.push('{"Variable_List": "PATH=/bin\\,/usr/bin,\tX="a"b", "n": 08}');
  const py = JSON.parse(python('import json,sys; from gadi_dask.pbsjson import repair_json; print(json.dumps([repair_json(t) for t in json.load(sys.stdin)]))', JSON.stringify(texts)));
  texts.forEach((t, i) => assert.equal(py[i], repairJson(t), `text ${i}: ${JSON.stringify(t)}`));
});

test('anything but PBS\'s JSON shape is refused by the agent\'s reader; the samples are accepted', () => {
  const garbage = ['', 'qstat: site maintenance', '{"Jobs": {"1.gadi-pbs": [not json', '[]', '{"pbs_version": "23"}',
    '{"pbs_version": "23", "pbs_server": "s", "Jobs": []}', '{"pbs_version": "23", "pbs_server": "s", "Jobs": {"1.x": {"Job_Name": "n"}}}'];
  const samples = readdirSync(SAMPLES).filter((f) => /^qstat_.*json/.test(f)).map((f) => readFileSync(join(SAMPLES, f), 'utf8'));
  const script = 'import json,sys\nfrom gadi_dask.pbsjson import parse_qstat, PbsOutputError\nout=[]\nfor t in json.load(sys.stdin):\n' +
    '    try:\n        out.append(len(parse_qstat(t)))\n    except PbsOutputError as e:\n        out.append(str(e))\nprint(json.dumps(out))';
  const py = JSON.parse(python(script, JSON.stringify([...garbage, ...samples])));
  garbage.forEach((g, i) => assert.equal(typeof py[i], 'string', `accepted garbage ${JSON.stringify(g)}`));
  samples.forEach((_, i) => assert.equal(typeof py[garbage.length + i], 'number', `refused sample ${i}: ${py[garbage.length + i]}`));
});
