// Stand-ins for PBS and the runtime's python, for running the lifecycle's remote scripts for real (bash through the
// local transport) in a private HOME: they record what they are asked and answer from files the test writes.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalTransport } from '../../src/core/remote/localTransport';

// qstat -f prints the states in $FAKE/states ("<id> <letter>", F = finished); qsub numbers jobs from $FAKE/seq and
// exits with $FAKE/qsub.rc when present; qdel marks jobs F. Every call is logged to $FAKE/calls.
export const FAKE_QSTAT = `#!/bin/bash
echo "qstat $*" >>"$FAKE/calls"
[ -f "$FAKE/qstat.fail" ] && { echo "qstat: cannot connect to server gadi-pbs (errno=15010)" >&2; exit 3; }
if [ "$1" = -x ]; then shift 3; json=1; else shift; fi
rc=0
[ -n "$json" ] && printf '{\\n\\t"pbs_version": "23.06.06",\\n\\t"Jobs": {\\n'
first=1
for id in "$@"; do
  st=$(awk -v id="$id" '$1 == id {print $2}' "$FAKE/states")
  if [ -z "$st" ]; then echo "qstat: Unknown Job Id $id" >&2; rc=153; continue; fi
  if [ -n "$json" ]; then
    [ -z "$first" ] && printf ',\\n'; first=
    ex=; [ "$st" = F ] && ex=', "Exit_status": 1'
    printf '\\t\\t"%s": {"Job_Name": "n", "Job_Owner": "u@h", "job_state": "%s", "queue": "normal"%s}' "$id" "$st" "$ex"
  elif [ "$st" = F ]; then echo "qstat: $id Job has finished, use -x or -H to obtain historical job information" >&2; rc=35
  else printf 'Job Id: %s\\n    Job_Name = n\\n    job_state = %s\\n    queue = normal\\n\\n' "$id" "$st"; fi
done
[ -n "$json" ] && printf '\\n\\t}\\n}\\n'
exit $rc
`;
export const FAKE_QSUB = `#!/bin/bash
echo "qsub $*" >>"$FAKE/calls"
if [ -f "$FAKE/qsub.rc" ]; then exit "$(cat "$FAKE/qsub.rc")"; fi
n=$(( $(cat "$FAKE/seq" 2>/dev/null || echo 0) + 1 )); echo $n >"$FAKE/seq"
echo "$n.gadi-pbs Q" >>"$FAKE/states"
echo "$n.gadi-pbs"
`;
export const FAKE_QDEL = `#!/bin/bash
echo "qdel $*" >>"$FAKE/calls"
for id in "$@"; do sed -i "s/^$id .*/$id F/" "$FAKE/states"; done
`;
// Stands in for python: records run.py's command line and prints a document shaped like the runtime's.
export const FAKE_PYTHON = `#!/bin/bash
shift
echo "python $*" >>"$FAKE/calls"
case "$1" in
  env) [ -f "$FAKE/nodask" ] && { printf '\\n@@GADI_DASK_BEGIN@@\\n{"ok":false,"code":"no-dask","error":"this python cannot import distributed: No module named distributed"}\\n@@GADI_DASK_END@@\\n'; exit 1; }
       printf '\\n@@GADI_DASK_BEGIN@@\\n{"ok":true,"runtimeVersion":"0.1.0"}\\n@@GADI_DASK_END@@\\n' ;;
  retire) shift; while [ "\${1#--}" != "$1" ]; do case $1 in --count) count=$2; shift 2;; --name) shift 2;; *) shift;; esac; done
       chosen=$(printf '%s\\n' "$@" | tail -n "$count")
       for id in $chosen; do sed -i "s/^$id .*/$id F/" "$FAKE/states"; done
       list=$(printf '"%s",' $chosen); list=\${list%,}
       printf '\\n@@GADI_DASK_BEGIN@@\\n{"ok":true,"chosen":[%s],"workers":{},"retired":[],"notRetired":[],"qdel":{%s},"warnings":[]}\\n@@GADI_DASK_END@@\\n' "$list" "$(for id in $chosen; do printf '"%s":"deleted",' "$id"; done | sed 's/,$//')" ;;
  status) printf '\\n@@GADI_DASK_BEGIN@@\\n{"ok":false,"code":"no-scheduler-file","error":"cluster c is not running: no scheduler file","cluster":"c","metadata":null}\\n@@GADI_DASK_END@@\\n' ;;
  scheduler) printf '\\n@@GADI_DASK_BEGIN@@\\n{"ok":false,"code":"start-failed","error":"no interface","log":["ValueError: bad interface"]}\\n@@GADI_DASK_END@@\\n'; exit 1 ;;
  shutdown) printf '\\n@@GADI_DASK_BEGIN@@\\n{"ok":true,"cluster":"c","wasRunning":false,"stopped":false,"workers":[],"retired":[],"workerJobIds":[],"jobIds":[],"warnings":[]}\\n@@GADI_DASK_END@@\\n' ;;
esac
`;

function write(path: string, text: string, mode = 0o755): void {
  writeFileSync(path, text);
  chmodSync(path, mode);
}

export class FakeCluster {
  readonly home: string;
  readonly fake: string;
  readonly transport: LocalTransport;

  constructor() {
    this.home = mkdtempSync(join(tmpdir(), 'cluster-fakes-'));
    this.fake = join(this.home, 'fake');
    mkdirSync(join(this.fake, 'bin'), { recursive: true });
    write(join(this.fake, 'bin', 'qstat'), FAKE_QSTAT);
    write(join(this.fake, 'bin', 'qsub'), FAKE_QSUB);
    write(join(this.fake, 'bin', 'qdel'), FAKE_QDEL);
    write(join(this.home, 'python'), FAKE_PYTHON);
    write(join(this.home, '.bash_profile'), `export PATH="${this.fake}/bin:/usr/bin:/bin"\nexport FAKE="${this.fake}"\necho "login banner: not a marker"\n`, 0o644);
    this.transport = new LocalTransport({ home: this.home, env: { HOME: this.home, PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' } });
  }

  clusterDir(name = 'c'): string {
    return join(this.home, '.gadi-dask', 'clusters', name);
  }

  calls(): string[] {
    const file = join(this.fake, 'calls');
    return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [];
  }

  states(text: string): void {
    writeFileSync(join(this.fake, 'states'), text);
  }

  jobsFile(text: string, name = 'c'): void {
    mkdirSync(this.clusterDir(name), { recursive: true });
    writeFileSync(join(this.clusterDir(name), 'jobs'), text);
  }

  /** Switches: qsub.rc (qsub's exit status), qstat.fail (PBS down), nodask (python without Dask). */
  set(flag: 'qsub.rc' | 'qstat.fail' | 'nodask' | 'seq', value = ''): void {
    writeFileSync(join(this.fake, flag), value);
  }

  /** A fresh account with an installed runtime of this hash (or none). */
  reset(hash?: string, version = '0.1.0'): void {
    rmSync(join(this.home, '.gadi-dask'), { recursive: true, force: true });
    for (const f of ['calls', 'states', 'seq', 'qsub.rc', 'qstat.fail', 'nodask']) rmSync(join(this.fake, f), { force: true });
    this.states('');
    if (hash === undefined) return;
    const rt = join(this.home, '.gadi-dask', 'runtime', version);
    mkdirSync(rt, { recursive: true });
    writeFileSync(join(rt, 'run.py'), '');
    writeFileSync(join(rt, '.gadi-dask-runtime.json'), `{"version":"${version}","hash":"${hash}","installedAt":"2026-01-01T00:00:00Z"}\n`);
  }

  async close(): Promise<void> {
    await this.transport.close();
    rmSync(this.home, { recursive: true, force: true });
  }
}
