import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkResourceValue, parseDirective, parseSelect, parseStorage } from '../../src/core/config/directives';

const resources = (text: string) =>
  parseDirective(text).options.flatMap((o) => (o.resources ?? []).map((r) => [r.name, r.value]));

test('one -l carries several comma-separated resources', () => {
  const d = parseDirective('-l walltime=6:00:00,mem=512GB');
  assert.deepEqual(d.problems, []);
  assert.deepEqual(resources(d.text), [['walltime', '6:00:00'], ['mem', '512GB']]);
  const mem = d.options[0].resources![1];
  assert.equal(d.text.slice(mem.span.start, mem.span.end), 'mem=512GB');
  assert.equal(d.text.slice(mem.valueSpan!.start, mem.valueSpan!.end), '512GB');
});

test('options in getopt style: attached values, several options per directive, flags', () => {
  assert.deepEqual(resources('-lwalltime=01:00:00'), [['walltime', '01:00:00']]);
  const d = parseDirective('-q normal -P ab12 -l wd -V');
  assert.deepEqual(d.problems, []);
  assert.deepEqual(d.options.map((o) => [o.flag, o.value]), [['q', 'normal'], ['P', 'ab12'], ['l', 'wd'], ['V', undefined]]);
  assert.equal(d.text[d.options[1].flagAt], 'P');
  assert.deepEqual(parseDirective('-Pab12').options.map((o) => o.value), ['ab12']);
});

test('PBS accepts what PBS accepts: unit case, walltime in seconds, site resources, bare flags', () => {
  for (const ok of ['-l mem=32gb', '-l mem=32GB', '-l jobfs=400Mb', '-l walltime=3600', '-l software=matlab',
    '-l other=hyperthread', '-l wd', '-l storage=gdata/ab12+scratch/cd34', '-W umask=027', '-j oe', '-l ngpus=1',
    '-l select=2:ncpus=48:mem=192GB', '-v "A=1,B=2"']) {
    assert.deepEqual(parseDirective(ok).problems, [], ok);
  }
  assert.deepEqual(resources('-l MEM=4gb'), [['mem', '4gb']]);
});

test('what qsub would refuse is a problem at its position', () => {
  const cases: [string, RegExp, string][] = [
    ['-l mem=lots', /PBS size/, 'lots'],
    ['-l walltime=two', /walltime/, 'two'],
    ['-l ncpus=4.5', /whole number/, '4.5'],
    ['-l', /needs a value/, '-l'],
    ['P ab12', /not a qsub option/, 'P'],
    ['-Y', /-Y is not a qsub option/, '-Y'],
    ['-l ncpus=4,,mem=1gb', /Empty resource/, ','],
    ['-l storage=gdata', /storage entry/, 'gdata'],
  ];
  for (const [text, message, at] of cases) {
    const [p] = parseDirective(text).problems;
    assert.ok(p, text);
    assert.match(p.message, message, text);
    assert.equal(text.slice(p.span.start, p.span.end), at, text);
  }
});

test('a directive written with its own #PBS prefix gets the prefix-free replacement', () => {
  const d = parseDirective('#PBS -l wd');
  assert.equal(d.problems[0].replacement, '-l wd');
  assert.deepEqual(d.options.map((o) => o.flag), ['l']);
  assert.equal(parseDirective('   ').problems[0].severity, 'warning');
});

test('select chunks and storage entries', () => {
  assert.deepEqual(parseSelect('2:ncpus=48:mem=192GB+1:ncpus=4'), [
    { count: 2, resources: { ncpus: '48', mem: '192GB' } },
    { count: 1, resources: { ncpus: '4' } },
  ]);
  assert.deepEqual(parseSelect('ncpus=4'), [{ count: 1, resources: { ncpus: '4' } }]);
  assert.throws(() => parseSelect('1:ncpus'), /not a resource=value/);
  assert.deepEqual(parseStorage('gdata/AB12+scratch/cd34'), ['gdata/ab12', 'scratch/cd34']);
  assert.equal(checkResourceValue('select', '1:ncpus=x'), "'x' is not a whole number for ncpus");
  assert.equal(checkResourceValue('unknown', undefined), undefined);
  assert.match(checkResourceValue('mem', undefined)!, /needs a value/);
});
