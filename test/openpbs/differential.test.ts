// The emulator held to real PBS, measured: one scripted scenario (scenario.ts) runs as two cluster accounts at once,
// one with real OpenPBS on its login PATH, one with the emulator, and every exit status, text and qstat JSON
// attribute is compared after normalising ids, times, host names and the user. The table is printed; every field
// that differs must be listed, with its reason, in the emulator README's "Known differences from real PBS", and
// every listed one must still differ. With GADI_DASK_REFRESH_PBS_FIXTURES=1 the real outputs are also written to
// test/fixtures/pbs/real-openpbs/, renamed to read like Gadi.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { refusingPrompt } from '../../src/core/remote/prompt';
import { SshTransportPool } from '../../src/core/remote/sshTransport';
import { startSandbox, type Sandbox } from '../sandbox/sandbox';
import { compareRuns, knownDifferences, matchesKey, renderTable, type Row } from './differential';
import { writeRealFixtures } from './realFixtures';
import { PBS_BIN, PBS_SERVER, startRealPbs, type RealPbs } from './realPbs';
import { installJobScripts, runScenario, type Exec, type ScenarioRun } from './scenario';

const REAL_USER = 'gdpbsdiffr';
const EMU_USER = 'gdpbsdiffe';
const NCPUS = 16; // run.sh's node
const README = join(__dirname, '..', 'pbs-emulator', 'README.md');

let real: RealPbs;
let emu: Sandbox;
let emuPool: SshTransportPool;
let runs: { real: ScenarioRun; emu: ScenarioRun };
let rows: Row[];

const execOn = (pool: SshTransportPool, alias: string): Exec => {
  const t = pool.open(alias);
  return (command) => t.exec(command, { timeoutMs: 30_000 });
};

before(async () => {
  real = await startRealPbs(REAL_USER);
  // The emulator named like the real server: its default queue, its one node's cores.
  emu = await startSandbox({
    user: EMU_USER,
    alias: 'gadi-emulator',
    loginProfile: `export PBS_EMULATOR_DEFAULT_QUEUE=normal PBS_EMULATOR_NCPUS=${NCPUS} PBS_EMULATOR_SERVER=${PBS_SERVER}\n`,
  });
  emuPool = new SshTransportPool({ prompt: refusingPrompt, agent: null, sshConfig: { configFile: emu.sshConfigPath, systemConfigFile: null } });
  installJobScripts(real.sb.home, real.sb.uid, real.sb.gid);
  installJobScripts(emu.home, emu.uid, emu.gid);
  const [r, e] = await Promise.all([
    runScenario(execOn(real.pool, real.sb.alias), PBS_SERVER, NCPUS, 'real PBS'),
    runScenario(execOn(emuPool, emu.alias), PBS_SERVER, NCPUS, 'emulator'),
  ]);
  runs = { real: r, emu: e };
  rows = compareRuns(
    { run: r, user: REAL_USER, pbsBin: PBS_BIN },
    { run: e, user: EMU_USER, pbsBin: emu.pbsBinDir! },
  );
  console.log(renderTable(rows));
  if (process.env.GADI_DASK_REFRESH_PBS_FIXTURES === '1') writeRealFixtures(r, REAL_USER, PBS_BIN);
});

after(async () => {
  await emuPool?.close();
  await emu?.stop();
  await real?.stop();
});

test('both servers ran the whole scenario', () => {
  assert.deepEqual(runs.emu.steps.map((s) => s.step), runs.real.steps.map((s) => s.step));
  assert.ok(rows.length > 100, `${rows.length} fields compared`);
});

test("every difference from real PBS is listed in the emulator's README, with a reason", () => {
  const listed = knownDifferences(readFileSync(README, 'utf8'));
  const differing = rows.filter((r) => r.status === 'different');
  const unlisted = differing.filter((r) => ![...listed.keys()].some((k) => matchesKey(k, r.key)));
  assert.deepEqual(unlisted.map((r) => `${r.key}: real ${r.real} | emulator ${r.emu}`), [], 'differences not listed in test/pbs-emulator/README.md');
});

test("no difference listed in the emulator's README is gone", () => {
  const listed = knownDifferences(readFileSync(README, 'utf8'));
  const differing = rows.filter((r) => r.status === 'different').map((r) => r.key);
  assert.deepEqual([...listed.keys()].filter((k) => !differing.some((d) => matchesKey(k, d))), [], 'listed as known differences but equal now: remove them from the README');
});
