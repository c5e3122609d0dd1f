// Hover from the language service: a key's docs, what a value means, what a directive asks PBS for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Hover, MarkupContent } from 'vscode-languageserver-types';
import { ConfigDocument } from '../../src/core/config';
import { hover } from '../../src/server/service';

/** Hover at the `|` in the text; also returns the hovered range's text. */
function hoverAt(marked: string): { hover: Hover | null; value: string; covered: string } {
  const at = marked.indexOf('|');
  const text = marked.slice(0, at) + marked.slice(at + 1);
  const cd = new ConfigDocument(text);
  const h = hover(text, cd.position(at));
  const value = h ? (h.contents as MarkupContent).value : '';
  const covered = h?.range ? text.slice(cd.offsetAt(h.range.start), cd.offsetAt(h.range.end)) : '';
  return { hover: h, value, covered };
}

const PBS = 'site: gadi\njobqueue:\n  pbs:\n';

test('hover on cores shows its description, type and dask-jobqueue keyword', () => {
  const h = hoverAt(`${PBS}    co|res: 48\n    memory: 192GB\n`);
  assert.match(h.value, /Total number of cores per job/);
  assert.match(h.value, /`integer` · required/);
  assert.match(h.value, /PBSCluster\(cores=…\)/);
  assert.equal(h.covered, 'cores');
});

test('hover on a key with a default and on a deprecated key', () => {
  assert.match(hoverAt(`${PBS}    death-tim|eout: 30\n`).value, /default `60`/);
  const old = hoverAt(`${PBS}    env-ex|tra: []\n`);
  assert.match(old.value, /\*\*Deprecated\*\*: use `job-script-prologue` instead/);
});

test('hover on keys of our own sections', () => {
  assert.match(hoverAt('connection:\n  ho|st: gadi\n').value, /ssh\/config alias/);
  assert.match(hoverAt('scheduler:\n  placem|ent: login\n').value, /One of `job`, `login`/);
});

test('hover on a queue value shows that queue\'s limits', () => {
  const h = hoverAt(`${PBS}    queue: gpu|volta\n`);
  assert.match(h.value, /Gadi queue `gpuvolta`/);
  assert.match(h.value, /48 cores and 382 GiB per node, 4 GPUs \(12 cores per GPU\)/);
  assert.match(h.value, /48 h up to 96 cores/);
  assert.match(h.value, /PBS queue/);
  assert.equal(h.covered, 'gpuvolta');
  // Not a Gadi queue: the key's docs only.
  assert.doesNotMatch(hoverAt(`${PBS}    queue: wor|kq\n`).value, /Gadi queue/);
});

test('hover on a memory or walltime value says what it is in bytes or hours', () => {
  assert.match(hoverAt(`${PBS}    memory: 19|2GB\n`).value, /192,000,000,000 bytes \(178\.81GiB\)/);
  assert.match(hoverAt(`${PBS}    walltime: 54|00\n`).value, /01:30:00 \(5,400 seconds\)/);
  assert.match(hoverAt('scheduler:\n  walltime: "0|2:00:00"\n').value, /7,200 seconds/);
});

test('hover on a directive explains the option and the resource under the cursor', () => {
  const storage = hoverAt(`${PBS}    job-extra-directives: ["-P ab12 -l stor|age=gdata/ab12,ncpus=4"]\n`);
  assert.match(storage.value, /Gadi file systems the job needs/);
  assert.doesNotMatch(storage.value, /Cores for the whole job/);
  assert.equal(storage.covered, 'storage=gdata/ab12');
  const project = hoverAt(`${PBS}    job-extra-directives:\n      - -|P ab12 -l wd\n`);
  assert.match(project.value, /Project whose allocation pays for the job/);
  assert.equal(project.covered, '-P ab12');
  const queue = hoverAt(`${PBS}    job-extra-directives:\n      - -q exp|ress\n`);
  assert.match(queue.value, /Gadi queue `express`/);
  const jobfs = hoverAt(`${PBS}    job-extra-directives: [-l jobfs=10|0GB]\n`);
  assert.match(jobfs.value, /Node-local SSD/);
});

test('nothing to say in blank space, in comments, or beyond the size limit', () => {
  assert.equal(hoverAt(`${PBS}    cores: 48\n  |\n`).hover, null);
  assert.equal(hoverAt(`${PBS}    cores: 48  # one no|de\n`).hover, null);
  assert.equal(hover(`${'#'.repeat(1100 * 1024)}\n`, { line: 0, character: 3 }), null);
});

test('hover on a snake_case key documents it, as dask reads it as the kebab-case key', () => {
  const text = 'jobqueue:\n  pbs:\n    death_timeout: 5\n';
  const h = hover(text, new ConfigDocument(text).position(text.indexOf('death_timeout') + 2));
  assert.match((h?.contents as MarkupContent).value, /Seconds a worker waits/);
});
