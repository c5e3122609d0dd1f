// Only the owner gets into a cluster on real OpenPBS: up and `scale 1 --wait` over SSH with the CLI, then another
// user of the machine (nobody) is refused by the scheduler, the worker and its nanny, each in its own PBS job, and
// by the filesystem; a client with the cluster's keys computes; after down and up the keys are new.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectClient, runAs } from '../sandbox/clusterFixture';
import { assertKeysUnreadableToStranger, assertStrangerRefused, keyMaterial, lastJson, STRANGER, type ClusterAddresses } from '../sandbox/stranger';
import { startRealPbs, type RealPbs } from './realPbs';

const USER = 'gdpbstls';
const NAME = 'sealed';
let env: RealPbs;
let config: string;
let strangerHome: string;
const cdir = () => join(env.sb.home, '.gadi-dask', 'clusters', NAME);

before(async () => {
  env = await startRealPbs(USER);
  config = env.config(NAME);
  strangerHome = mkdtempSync(join(tmpdir(), 'tls-stranger-'));
  chownSync(strangerHome, STRANGER.uid, STRANGER.gid);
});
after(async () => {
  try {
    await env?.cli(['down'], config);
  } finally {
    await env?.stop();
    if (strangerHome) rmSync(strangerHome, { recursive: true, force: true });
  }
});

describe('a TLS cluster on real PBS', { concurrency: false }, () => {
  let at: ClusterAddresses;

  test('up and scale 1 --wait; the client snippet computes over TLS', async () => {
    for (const args of [['up'], ['scale', '1', '--wait']]) {
      const r = await env.cli(args, config);
      assert.equal(r.code, 0, r.stderr);
    }
    const r = await runAs(env.sb, ['/usr/bin/python3', '-'], `import json\n${connectClient(NAME)}info = c.scheduler_info()\n` +
      'print(json.dumps({"total": c.submit(sum, [1, 2, 3]).result(), "scheduler": info["address"],\n' +
      '  "workers": sorted(info["workers"]), "nannies": sorted(w["nanny"] for w in info["workers"].values())}))\n');
    assert.equal(r.code, 0, r.stderr);
    const got = lastJson<ClusterAddresses & { total: number }>(r);
    assert.equal(got.total, 6);
    assert.equal(got.workers.length, 1);
    for (const a of [got.scheduler, ...got.workers, ...got.nannies]) assert.match(a, /^tls:\/\//);
    at = got;
  });

  test('another user is refused by the scheduler, the worker and the nanny, and by the filesystem', async () => {
    await assertStrangerRefused(env.sb, strangerHome, cdir(), at);
    await assertKeysUnreadableToStranger(env.sb, strangerHome, cdir());
  });

  test('down, then up: new keys', async () => {
    const before = keyMaterial(cdir());
    for (const args of [['down'], ['up']]) {
      const r = await env.cli(args, config);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.notDeepEqual(keyMaterial(cdir()), before);
  });
});
