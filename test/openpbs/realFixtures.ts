// Real PBS's outputs from the differential scenario, kept as fixtures (test/fixtures/pbs/real-openpbs/) and renamed
// to read like Gadi. The test server's one host is server, execution node and login node at once; the renaming gives
// each role Gadi's name from where the name stands: node in exec_host/exec_vnode and the scheduler's comment,
// login node in the owner, submit host and output paths, the server (already gadi-pbs) everywhere else.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ScenarioRun, Step } from './scenario';

export const FIXTURES_DIR = join(__dirname, '..', 'fixtures', 'pbs', 'real-openpbs');
export const GADI = { user: 'abc123', home: '/home/123/abc123', node: 'gadi-cpu-clx-0001', login: 'gadi-login-01.gadi.nci.org.au', pbsBin: '/opt/pbs/default/bin' };
const SERVER = 'gadi-pbs';

const NODE_ATTRS = new Set(['exec_host', 'exec_vnode', 'comment']);
const LOGIN_ATTRS = new Set(['Job_Owner', 'Submit_Host', 'Output_Path', 'Error_Path', 'PBS_O_HOST']);

function renamer(user: string, pbsBin: string): (text: string, host?: string) => string {
  const name = new RegExp(`\\b${user}\\b`, 'g');
  // Job ids and dependencies name the server, which keeps its name; only a node's or login node's name changes.
  return (text, host = SERVER) =>
    text.split(`/home/${user}`).join(GADI.home).split(pbsBin).join(GADI.pbsBin).replace(name, GADI.user).split(SERVER).join(host);
}

const fileName = (s: Step) => s.step.replace(/[:]/g, '_');

/** Replaces the fixtures with this run's real outputs: `<step>.json` for qstat's JSON, `<step>.txt` (command, output, exit status) otherwise. */
export function writeRealFixtures(run: ScenarioRun, user: string, pbsBin: string): void {
  const rename = renamer(user, pbsBin);
  mkdirSync(FIXTURES_DIR, { recursive: true });
  for (const f of readdirSync(FIXTURES_DIR)) if (/\.(json|txt)$/.test(f)) rmSync(join(FIXTURES_DIR, f));
  for (const s of run.steps) {
    if (s.json && s.code === 0 && !s.stderr) {
      // The server's own layout, one attribute a line: each line renamed for the role its attribute names.
      const text = s.stdout.split('\n').map((line) => {
        const key = /^\s*"([^"]+)":/.exec(line)?.[1] ?? '';
        return rename(line, NODE_ATTRS.has(key) ? GADI.node : LOGIN_ATTRS.has(key) ? GADI.login : SERVER);
      });
      writeFileSync(join(FIXTURES_DIR, `${fileName(s)}.json`), text.join('\n'));
      continue;
    }
    const text = [`$ ${s.command}`, s.stdout.trimEnd(), s.stderr.trimEnd(), `rc=${s.code}`].filter(Boolean).join('\n');
    writeFileSync(join(FIXTURES_DIR, `${fileName(s)}.txt`), `${rename(text)}\n`);
  }
}
