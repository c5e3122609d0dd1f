#!/usr/bin/env bash
# Starts the gadi-dask agent in a login shell: runs the cluster's job-script-prologue (module load, venv) the way
# a worker job runs it, then execs the agent under the cluster's python. Run as
#   bash -c "<this file's text>" gadi-dask-agent VERSION HASH FRAME PROTOCOL
# Standard input: line 1 the base64 of the prologue, line 2 the base64 of the python, then the agent's requests.
# Nothing from the config is ever in argv or the environment: other users on a login node can read both.
set -u
version=$1 hash=$2 frame=$3 protocol=$4
runtime=$HOME/.gadi-dask/runtime/$version

answer() { # code error: an agent-shaped answer for the failures that happen before there is an agent
  printf '\n%s {"v":%s,"id":null,"ok":false,"code":"%s","error":"%s"}\n' "$frame" "$protocol" "$1" "$2"
}

if ! IFS= read -r prologue || ! IFS= read -r python; then
  answer bad-request "standard input did not start with the prologue and python lines"
  exit 2
fi
manifest=$runtime/.gadi-dask-runtime.json
if [ ! -f "$runtime/run.py" ] || ! grep -q "\"hash\": *\"$hash\"" "$manifest" 2>/dev/null; then
  answer no-runtime "the gadi-dask runtime $version is not installed with the expected hash"
  exit 0
fi

umask 077
work=$(mktemp -d "${TMPDIR:-/tmp}/gadi-dask.XXXXXXXX") || { answer io "cannot create a private temporary directory"; exit 1; }
printf '%s' "$prologue" | base64 -d >"$work/prologue.sh" || { answer bad-request "the prologue line is not base64"; exit 2; }
python=$(printf '%s' "$python" | base64 -d) || { answer bad-request "the python line is not base64"; exit 2; }
umask 022
cd "$HOME" || exit 1
# The prologue runs in this shell, as in a job script (so without -u); it must not read the requests, nor print
# into the answers.
set +u
# shellcheck disable=SC1091
. "$work/prologue.sh" </dev/null >"$work/prologue.log" 2>&1
rm -f "$work/prologue.sh"
cd "$HOME" || exit 1
# A literal "~/" is meant: the config spells the home directory that way, as in a job script.
# shellcheck disable=SC2088
case $python in "~/"*) python=$HOME/${python#"~/"} ;; esac
if ! command -v "$python" >/dev/null 2>&1; then
  printf 'gadi-dask: the python "%s" cannot be run here after the prologue. The prologue printed:\n' "$python" >&2
  cat "$work/prologue.log" >&2
  rm -rf "$work"
  answer no-python "the configured python cannot be run after the job-script-prologue (details on stderr)"
  exit 127
fi
exec "$python" "$runtime/run.py" agent --work "$work"
