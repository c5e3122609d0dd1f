// One scripted PBS scenario, run as a cluster account through its login shell: jobs running, waiting on a
// dependency, held, queued for lack of cores and finished; qstat, qselect and qdel of each, and the errors a user
// meets (unknown queue, bad resources, unknown or finished ids). The differential test runs it against real PBS and
// the emulator; the fixture capture keeps real PBS's outputs.
import { chownSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExecResult } from '../../src/core/remote/transport';
import { until } from '../fixtures/poll';

export type Exec = (command: string) => Promise<ExecResult>;

/** What one command printed and its exit status, under a name that is the same on every server. */
export interface Step {
  step: string;
  command: string;
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout is `qstat -F json`. */
  json: boolean;
}

/** The scenario's jobs by role, as the server named them. */
export type Role = 'running' | 'depend' | 'held' | 'queued' | 'quick';

export interface ScenarioRun {
  steps: Step[];
  ids: Record<Role, string>;
}

const JOBS_DIR = join(__dirname, 'jobs');
export const JOB_SCRIPTS = ['long.sh', 'quick.sh'];
/** An id no server of the scenario has handed out. */
export const UNKNOWN_SEQ = 987654;

/** Puts the scenario's job scripts in the account's home, owned by it. */
export function installJobScripts(home: string, uid: number, gid: number): void {
  for (const name of JOB_SCRIPTS) {
    copyFileSync(join(JOBS_DIR, name), join(home, name));
    chownSync(join(home, name), uid, gid);
  }
}

type Jobs = Record<string, Record<string, unknown>>;

/** Runs the scenario; `label` names the server in a failed wait's message. */
export async function runScenario(exec: Exec, server: string, ncpus: number, label: string): Promise<ScenarioRun> {
  const steps: Step[] = [];
  const run = async (step: string, command: string, json = false): Promise<Step> => {
    const r = await exec(command);
    const s = { step, command, code: r.code, stdout: r.stdout, stderr: r.stderr, json };
    steps.push(s);
    return s;
  };
  const jobs = async (args: string): Promise<Jobs> => {
    const r = await exec(`qstat -x -f -F json ${args}`);
    return (JSON.parse(r.stdout) as { Jobs?: Jobs }).Jobs ?? {};
  };
  const submit = async (role: Role, command: string): Promise<string> => {
    const s = await run(`qsub:${role}`, command);
    const id = s.stdout.trim();
    if (s.code !== 0 || !/^\d+\./.test(id)) throw new Error(`${command}: exit ${s.code}: ${s.stdout}${s.stderr}`);
    return id;
  };
  const states = (j: Jobs, ids: string[]) => ids.map((id) => String(j[id]?.job_state)).join('');
  let seen = '';
  const settle = async (what: string, timeoutMs: number, probe: () => Promise<boolean>) => {
    try {
      await until(what, probe, { timeoutMs, everyMs: 300 });
    } catch (e) {
      throw new Error(`${label}: ${(e as Error).message} (last seen: ${seen})`);
    }
  };

  const wall = '-l walltime=00:10:00';
  const ids = {} as Record<Role, string>;
  ids.running = await submit('running', `qsub -N diffrun ${wall} long.sh`);
  ids.depend = await submit('depend', `qsub -N diffdep ${wall} -W depend=afterok:${ids.running} long.sh`);
  ids.held = await submit('held', `qsub -N diffheld -h ${wall} long.sh`);
  ids.quick = await submit('quick', 'qsub -N diffquick quick.sh');
  // Needs every core of the node while the running job holds one: stays queued with the scheduler's comment.
  ids.queued = await submit('queued', `qsub -N diffbig -l select=1:ncpus=${ncpus} ${wall} long.sh`);
  await settle('the running job R with its session, the quick one F, the big one Q with a comment', 30_000, async () => {
    const j = await jobs(`${ids.running} ${ids.quick} ${ids.queued}`);
    seen = `${states(j, [ids.running, ids.quick, ids.queued])}, session ${String(j[ids.running]?.session_id)}`;
    // A started job is R a moment before its MoM reports the session (substate 41, then 42).
    return seen.startsWith('RFQ') && j[ids.queued]?.comment !== undefined && j[ids.running]?.session_id !== undefined;
  });

  await run('qstat-json:running', `qstat -f -F json ${ids.running}`, true);
  await run('qstat-json:depend', `qstat -f -F json ${ids.depend}`, true);
  await run('qstat-json:held', `qstat -f -F json ${ids.held}`, true);
  await run('qstat-json:queued', `qstat -f -F json ${ids.queued}`, true);
  await run('qstat-json:finished', `qstat -x -f -F json ${ids.quick}`, true);
  await run('qstat-json:several', `qstat -f -F json ${ids.running} ${ids.held}`, true);
  await run('qstat:finished-without-x', `qstat ${ids.quick}`);
  await run('qstat:unknown', `qstat ${UNKNOWN_SEQ}.${server}`);
  await run('qstat-json:unknown', `qstat -f -F json ${UNKNOWN_SEQ}.${server}`, true);

  await run('qselect:user', 'qselect -u "$USER"');
  await run('qselect:name', 'qselect -N diffheld');
  await run('qselect:queued', 'qselect -s Q');
  await run('qselect:held', 'qselect -s H -u "$USER"');
  await run('qselect:history', 'qselect -x -u "$USER"');
  await run('qselect:finished', 'qselect -x -s F');
  await run('qselect:nomatch', 'qselect -N nosuchjob');

  await run('qsub:unknown-queue', 'qsub -q nosuchq quick.sh');
  await run('qsub:unknown-resource', 'qsub -l foo=1 quick.sh');
  await run('qsub:bad-walltime', 'qsub -l walltime=bogus quick.sh');
  // Accepted: the server cannot know the id is no job of another server's; the job ends at once, never run.
  const orphan = (await run('qsub:depend-unknown', `qsub -W depend=afterok:${UNKNOWN_SEQ}.${server} quick.sh`)).stdout.trim();
  if (orphan) {
    await settle('the job depending on an unknown one finished', 10_000, async () => (seen = states(await jobs(orphan), [orphan])) === 'F');
  }
  await run('qstat-json:depend-unknown', `qstat -x -f -F json ${orphan || `${UNKNOWN_SEQ}.${server}`}`, true);

  await run('qdel:finished', `qdel ${ids.quick}`);
  await run('qdel:unknown', `qdel ${UNKNOWN_SEQ}.${server}`);
  await run('qdel:queued', `qdel ${ids.queued}`);
  await run('qstat:queued-after-qdel', `qstat ${ids.queued}`);
  await run('qstat-json:queued-after-qdel', `qstat -x -f -F json ${ids.queued}`, true);
  await run('qdel:running', `qdel ${ids.running}`);
  // The job depending on it (afterok) can no longer run: the server deletes it too.
  await settle('the deleted running job and its dependent finished', 40_000, async () => {
    seen = states(await jobs(`${ids.running} ${ids.depend}`), [ids.running, ids.depend]);
    return seen === 'FF';
  });
  await run('qstat-json:running-after-qdel', `qstat -x -f -F json ${ids.running}`, true);
  await run('qstat-json:depend-after-qdel', `qstat -x -f -F json ${ids.depend}`, true);
  await run('qdel:held', `qdel ${ids.held}`);
  await run('qstat-json:held-after-qdel', `qstat -x -f -F json ${ids.held}`, true);
  await run('qdel:again', `qdel ${ids.held}`);
  await run('qselect:end', 'qselect -x -s F -u "$USER"');
  await run('qstat-json:none', 'qstat -f -F json', true);
  return { steps, ids };
}
