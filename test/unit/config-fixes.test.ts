// Every quick fix, applied to the text, must leave valid YAML in which its diagnostic is gone, whatever the style
// of the file: block, flow, or block with CRLF line ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Document, stringify } from 'yaml';
import { applyTextEdits } from '../../src/core/config/edits';
import { lintText } from '../../src/core/config/linter';
import { cleanGadiConfig, type Pbs, type Root } from '../fixtures/configs';

const base = cleanGadiConfig;
const extras = (p: Pbs) => p['job-extra-directives'] as string[];

/** Broken configs, one or more rules each. */
const CASES: Record<string, (p: Pbs, root: Root) => void> = {
  'account key': (p) => { p.account = 'xy12'; p['job-extra-directives'] = extras(p).slice(1); },
  'account key, no directives list': (p) => { p.account = 'xy12'; delete p['job-extra-directives']; },
  'account key with -P present': (p) => { p.account = 'xy12'; },
  '-A directive': (p) => { extras(p)[0] = '-A ab12'; },
  '-A beside -P': (p) => { extras(p).push('-A ab12 -l wd'); },
  'generated select': (p) => { p['job-directives-skip'] = []; p['job-extra-directives'] = ['-P ab12', '-l jobfs=100GB']; },
  'generated select, no skip key': (p) => { delete p['job-directives-skip']; p['job-extra-directives'] = ['-P ab12', '-l jobfs=100GB']; },
  'select mixed': (p) => { p['job-directives-skip'] = []; },
  'select resource-spec': (p) => { p['job-directives-skip'] = []; p['resource-spec'] = 'select=1:ncpus=48:mem=192GB'; p['job-extra-directives'] = ['-P ab12', '-l jobfs=100GB']; },
  'select directive': (p) => { p['job-extra-directives'] = ['-P ab12', '-l select=2:ncpus=24:mem=96GB', '-l jobfs=100GB']; },
  'no project': (p) => { p['job-extra-directives'] = extras(p).slice(1); },
  'no project, no list': (p) => { delete p['job-extra-directives']; p['resource-spec'] = 'ncpus=48,mem=192GB,jobfs=100GB'; },
  'no queue': (p) => { delete p.queue; },
  'misspelt queue': (p) => { p.queue = 'gpuvolt'; },
  'misspelt queue in a directive': (p) => { delete p.queue; extras(p).push('-q expres'); },
  'ncpus mismatch': (p) => { extras(p)[1] = '-l ncpus=24'; },
  'ncpus missing': (p) => { extras(p).splice(1, 1); },
  'mem too small': (p) => { extras(p)[2] = '-l mem=100GB'; },
  'mem wasted': (p) => { p.memory = '64GB'; },
  'mem missing': (p) => { extras(p).splice(2, 1); },
  'mem and ncpus in one directive': (p) => { p['job-extra-directives'] = ['-P ab12', '-l ncpus=24,mem=100GB', '-l jobfs=100GB']; },
  'processes': (p) => { p.processes = 7; },
  'worker memory': (p) => { p.memory = '6GB'; extras(p)[2] = '-l mem=6GB'; },
  'cores per node': (p) => { p.cores = 60; p.processes = 6; extras(p)[1] = '-l ncpus=60'; },
  'memory per node': (p) => { extras(p)[2] = '-l mem=200GB'; p.memory = '200GB'; },
  'walltime': (p) => { p.walltime = '50:00:00'; },
  'walltime in a directive': (p) => { extras(p).push('-l walltime=180000'); },
  'gpu ratio': (p) => { Object.assign(p, { queue: 'gpuvolta', cores: 12, memory: '95GB', processes: 1 }); p['job-extra-directives'] = ['-P ab12', '-l ncpus=12', '-l mem=95GB', '-l ngpus=2', '-l jobfs=100GB']; },
  'gpu missing': (p) => { Object.assign(p, { queue: 'gpuvolta', cores: 24, memory: '190GB', processes: 2 }); p['job-extra-directives'] = ['-P ab12', '-l ncpus=24', '-l mem=190GB', '-l jobfs=100GB']; },
  'storage missing': (p) => { p.python = '/g/data/xy12/env/bin/python'; (p['job-script-prologue'] as string[]).push('source /g/data/hh5/x'); },
  'storage extended': (p) => { p.python = '/g/data/xy12/env/bin/python'; extras(p).push('-l storage=gdata/ab12'); },
  'jobfs': (p) => { extras(p).splice(3, 1); },
  'interface wrong': (p) => { p.interface = 'eth0'; },
  'interface unset': (p) => { delete p.interface; },
  'login scheduler': (_p, root) => { root.scheduler = { placement: 'login', walltime: '04:00:00' }; },
  'login scheduler, default placement key': (_p, root) => { root.scheduler = { placement: 'login' }; },
  '#PBS prefix': (p) => { extras(p).push('#PBS -l wd'); },
  'deprecated key': (p) => { p['env-extra'] = p['job-script-prologue']; delete p['job-script-prologue']; },
  'unknown key': (p) => { delete p.walltime; p.walltme = '01:00:00'; },
  'quoted number': (p) => { p.cores = '48'; },
  'string for a list': (p) => { p['job-directives-skip'] = 'select'; },
  'placement typo': (_p, root) => { root.scheduler = { placement: 'logn' }; },
  'top-level typo': (_p, root) => { root.shceduler = { placement: 'job' }; },
  'missing cores': (p) => { delete p.cores; },
  'missing memory': (p) => { delete p.memory; },
};

function render(root: Root, style: 'block' | 'flow' | 'crlf'): string {
  if (style === 'flow') {
    const doc = new Document(root, { version: '1.1' });
    (doc.contents as unknown as { flow: boolean }).flow = true;
    return doc.toString({ lineWidth: 0 });
  }
  const text = stringify(root, { version: '1.1' });
  return style === 'crlf' ? text.replace(/\n/g, '\r\n') : text;
}

for (const style of ['block', 'flow', 'crlf'] as const) {
  test(`every fix resolves its diagnostic and keeps the YAML valid (${style} style)`, () => {
    let applied = 0;
    for (const [name, change] of Object.entries(CASES)) {
      const root = base();
      change(root.jobqueue.pbs, root);
      const text = render(root, style);
      const before = lintText(text);
      assert.deepEqual(before.ruleErrors, [], name);
      const withFixes = before.diagnostics.filter((d) => d.fixes?.length);
      assert.ok(withFixes.length > 0, `${name}: some diagnostic has a fix\n${text}\n${JSON.stringify(before.diagnostics.map((d) => d.code))}`);
      for (const d of withFixes) {
        for (const fix of d.fixes!) {
          const fixed = applyTextEdits(text, fix.edits);
          const after = lintText(fixed);
          const where = `${name} / ${d.code} / ${fix.title}\n--- before\n${text}\n--- after\n${fixed}`;
          assert.deepEqual(after.diagnostics.filter((x) => x.code.startsWith('yaml/') || x.code === 'schema/invalid-type'), [], where);
          const count = (r: typeof before) => r.diagnostics.filter((x) => x.code === d.code).length;
          assert.ok(count(after) < count(before), `${where}\n--- still\n${JSON.stringify(after.diagnostics.filter((x) => x.code === d.code))}`);
          if (style === 'crlf') assert.ok(!/[^\r]\n/.test(fixed), `${where}: a bare LF crept into a CRLF file`);
          applied++;
        }
      }
    }
    assert.ok(applied >= Object.keys(CASES).length, `applied ${applied} fixes`);
  });
}

test('fixes touch only what they must: comments and layout elsewhere survive', () => {
  const text = [
    '# my cluster', 'site: gadi', 'jobqueue:', '  pbs:', '    queue: normal   # the default', '    cores: 48',
    '    memory: 192GB', '    interface: ib0', '    account: ab12   # our project', '    job-directives-skip: [select]',
    '    job-extra-directives:', '      - -l ncpus=48  # whole node', '      - -l mem=192GB', '',
  ].join('\n');
  const d = lintText(text).diagnostics.find((x) => x.code === 'gadi/account-directive')!;
  const fixed = applyTextEdits(text, d.fixes![0].edits);
  assert.equal(fixed, text.replace('    account: ab12   # our project\n', '').replace('      - -l mem=192GB\n', '      - -l mem=192GB\n      - -P ab12\n'));
  assert.deepEqual(lintText(fixed).diagnostics.map((x) => x.code), []);
});
