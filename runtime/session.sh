#!/usr/bin/env bash
# Starts a cluster's scheduler inside a Gadi persistent session, where the agent reaches it with ssh: runs the
# cluster's job-script-prologue (module load, venv) as a job script would, then execs the scheduler launcher
# under the cluster's python. Run in a login shell of the session (PBS commands on PATH) as
#   bash -l session.sh <run.py scheduler arguments>
# Standard input: line 1 the base64 of the prologue, line 2 the base64 of the python (never argv: other users of
# the session's node can read it).
set -u
runtime=$(cd "$(dirname "$0")" && pwd)
if ! IFS= read -r prologue || ! IFS= read -r python; then
  echo "gadi-dask: no prologue and python on standard input" >&2
  exit 2
fi
umask 077
work=$(mktemp -d "${TMPDIR:-/tmp}/gadi-dask-session.XXXXXXXX") || exit 1
printf '%s' "$prologue" | base64 -d >"$work/prologue.sh"
python=$(printf '%s' "$python" | base64 -d)
umask 022
cd "$HOME" || exit 1
# An `exit` in the prologue would end this shell without a word: the trap says so instead.
prologue_exit() {
  echo "gadi-dask: the job-script-prologue ended the shell in the session before python ran; it printed:" >&2
  cat "$work/prologue.log" >&2
  rm -rf "$work"
}
trap prologue_exit EXIT
set +u
# shellcheck disable=SC1091
. "$work/prologue.sh" </dev/null >"$work/prologue.log" 2>&1
rc=$?
trap - EXIT
cd "$HOME" || exit 1
# A literal "~/" is meant: the config spells the home directory that way, as in a job script.
# shellcheck disable=SC2088
case $python in "~/"*) python=$HOME/${python#"~/"} ;; esac
if ! command -v "$python" >/dev/null 2>&1; then
  printf 'gadi-dask: the python "%s" cannot be run in the session after the prologue (its exit status %s). It printed:\n' "$python" "$rc" >&2
  cat "$work/prologue.log" >&2
  rm -rf "$work"
  exit 127
fi
rm -rf "$work"
exec "$python" "$runtime/run.py" scheduler "$@"
