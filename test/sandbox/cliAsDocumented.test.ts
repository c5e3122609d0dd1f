// Every cluster command the way the README and --help give it: over ssh to an alias of ~/.ssh/config, the one
// *.dask-cluster.yaml of the working directory, and no optional flag (no --timeout, --config or --ssh-config). The
// rest of the suite passes those flags, and so once missed that `scale 2 --wait` alone failed at once ("no answer
// within NaN s").
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliArgv, run, smallClusterYaml, type RunResult } from './clusterFixture';
import { startSandbox, type Sandbox } from './sandbox';

const USER = 'gddocumented';
const NAME = 'documented';

let sb: Sandbox;
let home: string;
let project: string;

before(async () => {
  sb = await startSandbox({ user: USER });
  // A client home whose ~/.ssh/config names the sandbox, as the README's "Configure a host" has it.
  home = mkdtempSync(join(tmpdir(), 'cli-documented-home-'));
  mkdirSync(join(home, '.ssh'), { mode: 0o700 });
  copyFileSync(sb.sshConfigPath, join(home, '.ssh', 'config'));
  project = join(home, 'project');
  mkdirSync(project);
  chmodSync(home, 0o755);
  writeFileSync(join(project, `${NAME}.dask-cluster.yaml`), smallClusterYaml(NAME, sb.alias));
});

after(async () => {
  if (sb) await gadiDask(['down']);
  await sb?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

/** `gadi-dask <args>` typed in the project directory, nothing else on the line. */
function gadiDask(args: string[]): Promise<RunResult> {
  return run(cliArgv(args), { cwd: project, env: { ...process.env, HOME: home, SSH_AUTH_SOCK: '' } });
}

describe('the CLI as documented', { concurrency: false }, () => {
  test('up, then scale 2 --wait with no other option reaches 2 workers', async () => {
    const up = await gadiDask(['up']);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /^Scheduler running at tls:\/\//m);

    const scale = await gadiDask(['scale', '2', '--wait']);
    assert.equal(scale.code, 0, scale.stderr);
    assert.doesNotMatch(scale.stderr, /NaN/);
    assert.match(scale.stdout, /^Workers: 2\/2 workers connected$/m);
  });

  test('status, report, scale 1 and adapt off, each without options', async () => {
    const status = await gadiDask(['status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^2 worker job\(s\) \(0 queued\), 2 worker\(s\)/m);

    const report = await gadiDask(['report']);
    assert.equal(report.code, 0, report.stderr);

    const scale = await gadiDask(['scale', '1']);
    assert.equal(scale.code, 0, scale.stderr);
    assert.match(scale.stdout, /^Worker jobs: 1 \(asked for 1\)$/m);

    const adapt = await gadiDask(['adapt', 'off']);
    assert.equal(adapt.code, 0, adapt.stderr);
    assert.match(adapt.stdout, /^Adaptivity off/m);
  });

  test('down without options stops everything; status then says the scheduler is not running (exit 6)', async () => {
    const down = await gadiDask(['down']);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /^Scheduler stopped$/m);
    const status = await gadiDask(['status']);
    assert.equal(status.code, 6, status.stderr);
  });
});
