// The lines of a layer's output that say what failed, gathered for the end of the run: layers beside another print
// after it, so a failure's details may sit far above the summary, out of a reader's (or a CI excerpt's) sight.
// Three shapes: node's spec reporter (`✖ failing tests:` then each test's error, indented), the editor suite's mocha
// as the runner relays it (`| … N failing` until its result line), and the runners' own `not ok - ` lines.
const MAX_LINES = 150;

/** The failure lines of `out`, at most MAX_LINES of them (the rest counted on a last line). */
export function failureLines(out) {
  const lines = out.split('\n');
  const kept = [];
  let block = null; // the test a line must pass to stay in the current block
  for (const line of lines) {
    if (block && block(line)) {
      kept.push(line);
      continue;
    }
    block = null;
    if (/^✖ failing tests:/.test(line)) {
      block = (l) => l.trim() === '' || /^(test at |✖ |\s)/.test(l);
    } else if (/^\s*\|\s+INFO\s+\d+ failing\s*$/.test(line)) {
      block = (l) => !l.includes('gadi-dask-suite-result');
    } else if (/^not ok - /.test(line)) {
      block = (l) => /^\s/.test(l) && l.trim() !== '';
    } else {
      continue;
    }
    kept.push(line);
  }
  while (kept.length && kept.at(-1).trim() === '') kept.pop();
  return kept.length > MAX_LINES ? [...kept.slice(0, MAX_LINES), `… and ${kept.length - MAX_LINES} more lines in the layer's output above`] : kept;
}
