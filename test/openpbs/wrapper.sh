#!/bin/bash
# Installed on a test account's login PATH under a PBS command's name: runs the command of that name that comes
# after it on PATH, first sleeping the seconds in ~/pbs-delay-<name> when that file exists (a slow server), and
# appends "<name> <milliseconds> <exit status> <argument count>" to ~/pbs-calls.log.
self=$(dirname "$(readlink -f "$0")")
name=$(basename "$0")
real=""
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  if [ "$d" != "$self" ] && [ -x "$d/$name" ]; then real=$d/$name; break; fi
done
[ -n "$real" ] || { echo "$name: not found behind the test wrapper" >&2; exit 127; }
if [ -r "$HOME/pbs-delay-$name" ]; then sleep "$(cat "$HOME/pbs-delay-$name")"; fi
start=$(date +%s%N)
"$real" "$@"
rc=$?
echo "$name $((($(date +%s%N) - start) / 1000000)) $rc $#" >>"$HOME/pbs-calls.log"
exit "$rc"
