import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  formatBytes, formatWalltime, parseBytes, parsePbsSize, parseTimedelta, parseWalltime, pbsFormatBytesCeil, UnitError,
} from '../../src/core/units';

test('parseBytes follows dask.utils.parse_bytes', () => {
  assert.equal(parseBytes('192GB'), 192e9);
  assert.equal(parseBytes('4 GiB'), 4 * 2 ** 30);
  assert.equal(parseBytes('4000MB'), 4e9);
  assert.equal(parseBytes('5G'), 5e9);
  assert.equal(parseBytes('5Gi'), 5 * 2 ** 30);
  assert.equal(parseBytes('MB'), 1e6);
  assert.equal(parseBytes('1.5kB'), 1500);
  assert.equal(parseBytes('100'), 100);
  assert.equal(parseBytes(123.9), 123);
  assert.equal(parseBytes('1e3kB'), 1e6);
  assert.throws(() => parseBytes('12 parsecs'), UnitError);
  assert.throws(() => parseBytes('1.2.3GB'), /as a number/);
});

test('formatBytes prints what dask-jobqueue passes as --memory-limit', () => {
  assert.equal(formatBytes(192e9 / 8), '22.35GiB');
  assert.equal(formatBytes(16e9 / 4), '3.73GiB');
  assert.equal(formatBytes(4e9 / 3), '1.24GiB');
  assert.equal(formatBytes(512), '512B');
  assert.equal(formatBytes(0.95 * 2 ** 30), '0.95GiB');
  assert.equal(formatBytes(2000), '1.95kiB');
});

test('pbsFormatBytesCeil rounds up into PBS binary units', () => {
  assert.equal(pbsFormatBytesCeil(16e9), '15GB');
  assert.equal(pbsFormatBytesCeil(192e9), '179GB');
  assert.equal(pbsFormatBytesCeil(4000e6), '3815MB');
  assert.equal(pbsFormatBytesCeil(12345678), '12MB');
  assert.equal(pbsFormatBytesCeil(1234567890), '1178MB');
  assert.equal(pbsFormatBytesCeil(1234), '1234B');
  assert.equal(pbsFormatBytesCeil(20000), '20kB');
});

test('parsePbsSize reads PBS size resources, case-insensitively', () => {
  assert.equal(parsePbsSize('192GB'), 192 * 2 ** 30);
  assert.equal(parsePbsSize('32gb'), 32 * 2 ** 30);
  assert.equal(parsePbsSize('100mb'), 100 * 2 ** 20);
  assert.equal(parsePbsSize('1048576kb'), 2 ** 30);
  assert.equal(parsePbsSize('4096'), 4096);
  assert.throws(() => parsePbsSize('lots'), UnitError);
});

test('walltimes parse as PBS reads them and print as HH:MM:SS', () => {
  assert.equal(parseWalltime('00:30:00'), 1800);
  assert.equal(parseWalltime('6:00:00'), 21600);
  assert.equal(parseWalltime('48:00:00'), 172800);
  assert.equal(parseWalltime('90'), 90);
  assert.equal(parseWalltime('05:30'), 330);
  assert.equal(parseWalltime(3600), 3600);
  assert.throws(() => parseWalltime('two hours'), /HH:MM:SS/);
  assert.throws(() => parseWalltime('1:2:3:4'), UnitError);
  assert.equal(formatWalltime(172800), '48:00:00');
  assert.equal(formatWalltime(330), '00:05:30');
});

test("parseTimedelta reads --death-timeout text as Debian's dask.utils.parse_timedelta does", () => {
  const inputs = [
    '10', '1e1', '1.5', '.5', '1.', '90s', '2m', '1h', '3 minutes', '1 Hour', '2d', '1w', '5ms', '10us', '10ns', '1.5e+2',
    'ms', 'm', 'abc', '', '1e', '5x', '0x10', '1_0', '-5', '+5s', 'inf', '10 s', '1:30', '1e1s', '2M',
  ];
  const script = 'import json, sys\nfrom dask.utils import parse_timedelta\nout = []\nfor s in json.load(sys.stdin):\n    try: out.append(float(parse_timedelta(s)))\n    except Exception: out.append(None)\njson.dump(out, sys.stdout)';
  const run = spawnSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify(inputs) });
  assert.equal(run.status, 0, String(run.stderr));
  const dask: (number | null)[] = JSON.parse(String(run.stdout));
  const ours = inputs.map((s) => {
    try {
      return parseTimedelta(s);
    } catch (e) {
      assert.ok(e instanceof UnitError);
      return null;
    }
  });
  assert.deepEqual(ours, dask);
});
