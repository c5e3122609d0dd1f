// Comparing two runs of the PBS scenario field by field: exit status, stdout and stderr of each command, and each
// attribute of each job in qstat's JSON. A field is equal (same text), normalised (same once ids, times, host names,
// the user and the PBS command directory are put in words) or different.
import type { ScenarioRun, Step } from './scenario';

export type Status = 'equal' | 'normalised' | 'different';

export interface Row {
  /** `step field`, as the emulator README lists known differences. */
  key: string;
  status: Status;
  real: string;
  emu: string;
}

export interface Side {
  run: ScenarioRun;
  user: string;
  /** Where the account's PBS commands are (they show in PBS_O_PATH). */
  pbsBin: string;
}

// Host names of either server (real PBS: server, node and login host are all the namespace's host).
const HOSTS = /\b(?:gadi-pbs|gadi-cpu-clx-\d+)\b/g;
// ctime-style stamps ("Sun Dec  6 21:40:27 2026") and the scheduler's short ones ("Sun Dec 06 at 21:40").
const TIMES = /\b[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d (?:\d\d:\d\d:\d\d \d{4}|at \d\d:\d\d)\b/g;
// What depends on the moment or the machine, not on the server's behaviour: only the shape is compared.
const VOLATILE = /^(?:[^.]+\.)?(?:session_id|resources_used\.\w+|eligible_time|timestamp|history_timestamp|Variable_List\.PBS_O_PATH)$/;

export function normaliser(side: Side): (text: string) => string {
  // The scenario's jobs by role; a job an error case did not refuse, by its step.
  const roles = new Map<string, string>(Object.entries(side.run.ids).map(([role, id]) => [id.split('.')[0]!, role]));
  for (const s of side.run.steps) {
    const seq = /^qsub:/.test(s.step) && s.code === 0 ? /^(\d+)\./.exec(s.stdout)?.[1] : undefined;
    if (seq && !roles.has(seq)) roles.set(seq, s.step);
  }
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const user = new RegExp(`\\b${esc(side.user)}\\b`, 'g');
  const bin = new RegExp(esc(side.pbsBin), 'g');
  return (text) =>
    text
      .replace(/(?<!\d)(\d+)(?=(?:\[\d*\])?\.gadi-pbs\b)/g, (seq) => (roles.has(seq) ? `<${roles.get(seq)}>` : seq))
      .replace(/\.([oe])(\d+)(?!\d)/g, (m, oe: string, seq: string) => (roles.has(seq) ? `.${oe}<${roles.get(seq)}>` : m))
      .replace(bin, '<pbs-bin>')
      // Beside real PBS the sandbox adds the persistent-sessions stand-in's directory; the emulator carries it in its own.
      .replace(/[^:"]*\/\.local\/persistent-sessions\/bin:/g, '')
      .replace(TIMES, '<time>')
      .replace(HOSTS, '<host>')
      .replace(user, '<user>');
}

type Jobs = Record<string, Record<string, unknown>>;

/** The fields of a qstat JSON document: the top level, the job list, and each job's attributes (one level down). */
function jsonFields(text: string, norm: (s: string) => string): Map<string, string> | undefined {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const out = new Map<string, string>();
  const jobs = (doc.Jobs ?? {}) as Jobs;
  const ids = Object.keys(jobs);
  out.set('Jobs', doc.Jobs === undefined ? '(no Jobs key)' : norm(ids.join(' ')));
  for (const [k, v] of Object.entries(doc)) if (k !== 'Jobs') out.set(k, JSON.stringify(v));
  // Several jobs in one answer: the list and its order are what the step is about.
  if (ids.length !== 1) return out;
  for (const [attr, v] of Object.entries(jobs[ids[0]!]!)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      for (const [sub, w] of Object.entries(v)) out.set(`${attr}.${sub}`, JSON.stringify(w));
    } else out.set(attr, JSON.stringify(v));
  }
  return out;
}

const ABSENT = '(absent)';
const shape = (v: string) => v.replace(/\d+/g, '9');

function stepFields(s: Step, norm: (t: string) => string): Map<string, string> {
  const fields = new Map<string, string>([['exit', String(s.code)]]);
  const json = s.json ? jsonFields(s.stdout, norm) : undefined;
  if (json) for (const [k, v] of json) fields.set(k, v);
  else fields.set('stdout', JSON.stringify(s.stdout));
  fields.set('stderr', JSON.stringify(s.stderr));
  return fields;
}

export function compareRuns(real: Side, emu: Side): Row[] {
  const normReal = normaliser(real);
  const normEmu = normaliser(emu);
  const rows: Row[] = [];
  real.run.steps.forEach((rs, i) => {
    const es = emu.run.steps[i];
    if (!es || es.step !== rs.step) throw new Error(`the runs went apart at step ${i} (${rs.step} / ${es?.step})`);
    const rf = stepFields(rs, normReal);
    const ef = stepFields(es, normEmu);
    for (const field of new Set([...rf.keys(), ...ef.keys()])) {
      const r = rf.get(field) ?? ABSENT;
      const e = ef.get(field) ?? ABSENT;
      let status: Status = 'different';
      if (r === e) status = 'equal';
      else {
        const volatile = VOLATILE.test(field) && r !== ABSENT && e !== ABSENT;
        const nr = volatile ? shape(normReal(r)) : normReal(r);
        const ne = volatile ? shape(normEmu(e)) : normEmu(e);
        if (nr === ne) status = 'normalised';
      }
      rows.push({ key: `${rs.step} ${field}`, status, real: r, emu: e });
    }
  });
  return rows;
}

/**
 * The README's known differences: `- \`step field\`: reason` bullets under "## Known differences from real PBS".
 * A `*` in the key stands for any run of characters but a space (`qstat-json:* Hold_Types`).
 */
export function knownDifferences(readme: string): Map<string, string> {
  const section = /^## Known differences from real PBS\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(readme)?.[1];
  if (section === undefined) throw new Error('the emulator README has no "## Known differences from real PBS" section');
  const out = new Map<string, string>();
  for (const m of section.matchAll(/^- `([^`]+)`:? *(.*)$/gm)) {
    if (!m[2]!.trim()) throw new Error(`known difference \`${m[1]}\` gives no reason`);
    out.set(m[1]!, m[2]!.trim());
  }
  return out;
}

/** Whether the known difference `key` (which may hold `*`) names the row key `rowKey`. */
export function matchesKey(key: string, rowKey: string): boolean {
  const pattern = key.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^ ]*');
  return new RegExp(`^${pattern}$`).test(rowKey);
}

const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

export function renderTable(rows: Row[]): string {
  const width = Math.max(...rows.map((r) => r.key.length));
  const count = (s: Status) => rows.filter((r) => r.status === s).length;
  const lines = [
    `emulator vs real PBS: ${rows.length} fields, ${count('equal')} equal, ${count('normalised')} normalised, ${count('different')} different`,
    `${'command field'.padEnd(width)}  result      real | emulator`,
    ...rows.map((r) => `${r.key.padEnd(width)}  ${r.status.padEnd(10)}${r.status === 'different' ? `  ${cut(r.real, 70)} | ${cut(r.emu, 70)}` : ''}`),
  ];
  return lines.join('\n');
}
