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
  printf '\n%s {"v":%s,"id":null,"ok":false,"code":"%s","error":"%s"}\n' "$frame" "$protocol" "$1" "$(json_text "$2")"
}

json_text() { # text as the inside of a JSON string: one line, no control characters, quotes escaped
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  printf '%s' "$s" | tr '\n\t' '  ' | tr -d '\000-\037'
}

# Only a login script that reads standard input (read, cat, a prompt) takes these lines before we do.
b64ok() { printf '%s' "$1" | base64 -d >/dev/null 2>&1; }
if ! IFS= read -r prologue || ! IFS= read -r python || ! b64ok "$prologue" || ! b64ok "$python"; then
  answer no-preamble "the agent's first lines on standard input were read by something else before it started"
  exit 2
fi
if [ ! -d "$HOME" ] || [ ! -w "$HOME" ]; then
  answer no-home "the home directory HOME=$HOME does not exist or cannot be written"
  exit 1
fi
manifest=$runtime/.gadi-dask-runtime.json
if [ ! -f "$runtime/run.py" ] || ! grep -q "\"hash\": *\"$hash\"" "$manifest" 2>/dev/null; then
  answer no-runtime "the gadi-dask runtime $version is not installed with the expected hash"
  exit 0
fi

umask 077
# As Python's tempfile does: TMPDIR when it can be used, else the usual places.
work=
for dir in "${TMPDIR:-}" /tmp /var/tmp "$HOME"; do
  [ -n "$dir" ] && work=$(mktemp -d "$dir/gadi-dask.XXXXXXXX" 2>/dev/null) && break
  work=
done
if [ -z "$work" ]; then
  answer no-tmpdir "no private temporary directory could be made in TMPDIR=${TMPDIR:-}, /tmp, /var/tmp or $HOME"
  exit 1
fi
printf '%s' "$prologue" | base64 -d >"$work/prologue.sh"
python=$(printf '%s' "$python" | base64 -d)
umask 022
cd "$HOME" || exit 1
# The prologue runs in this shell, as in a job script (so without -u); it must not read the requests, nor print
# into the answers. An `exit` in it would end this shell without a word: the trap says so instead.
prologue_exit() {
  local rc=$?
  answer prologue-exit "the job-script-prologue ended the shell with exit status $rc before python ran; it printed: $(tail -c 600 "$work/prologue.log" 2>/dev/null)"
  rm -rf "$work"
}
trap prologue_exit EXIT
set +u
# shellcheck disable=SC1091
. "$work/prologue.sh" </dev/null >"$work/prologue.log" 2>&1
trap - EXIT
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
# Seen on stderr only when no answer comes: the shell got this far, so it was the python that said nothing.
printf 'gadi-dask: starting the agent with %s\n' "$python" >&2
exec "$python" "$runtime/run.py" agent --work "$work"
