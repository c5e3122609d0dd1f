#!/bin/sh
# Installs a gadi-dask runtime into ~/.gadi-dask/runtime/<version>/ (contract in runtime/README.md).
#   install.sh check   VERSION HASH           is that exact runtime installed?
#   install.sh install VERSION HASH ARCHIVE   install it from a tar (or tar.gz) of the runtime tree
#   install.sh hash    DIR                    content hash of a runtime tree
# Self-contained POSIX sh (needs find, sort, sed, sha256sum, tar, od): the extension may run it as
# `sh -c "<this file's text>" gadi-dask-install check ...` without uploading it first.
# Prints one JSON document between the markers; exit 0 when "ok" is true, 1 otherwise, 2 on usage errors.

BEGIN='@@GADI_DASK_BEGIN@@'
END='@@GADI_DASK_END@@'
MANIFEST='.gadi-dask-runtime.json'
root="$HOME/.gadi-dask"

json_str() {
  printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}
emit() { printf '\n%s\n%s\n%s\n' "$BEGIN" "$1" "$END"; }
fail() { # code message [exit]
  emit "{\"ok\":false,\"code\":$(json_str "$1"),\"error\":$(json_str "$2")}"
  exit "${3:-1}"
}

# The runtime's file list: paths relative to DIR, sorted by bytes (see README "Hash").
tree_files() {
  (cd "$1" && find . -name __pycache__ -prune -o -type f ! -name '*.pyc' -print) |
    sed 's|^\./||' | grep -v "^$(printf '%s' "$MANIFEST" | sed 's/\./\\./g')\$" | LC_ALL=C sort
}
tree_hash() {
  tree_files "$1" | while IFS= read -r f; do
    printf '%s  %s\n' "$(sha256sum <"$1/$f" | cut -c1-64)" "$f"
  done | sha256sum | cut -c1-64
}
# Refuses trees that the hash cannot describe: links, and names outside [A-Za-z0-9._/-].
tree_check() {
  if [ -n "$(cd "$1" && find . -type l | head -n 1)" ]; then echo "the runtime contains a symbolic link"; return 1; fi
  bad=$(tree_files "$1" | grep -v '^[A-Za-z0-9._/-]*$' | head -n 1)
  if [ -n "$bad" ]; then echo "unsupported file name: $bad"; return 1; fi
  return 0
}

installed_hash() { # the hash recorded in DIR's manifest, or nothing
  [ -f "$1/$MANIFEST" ] && sed -n 's/.*"hash": *"\([0-9a-f]\{64\}\)".*/\1/p' "$1/$MANIFEST" | head -n 1
}
# Up to date = manifest names HASH and the files still hash to it (a hand-edited install is reinstalled).
up_to_date() {
  [ "$(installed_hash "$1")" = "$2" ] && [ "$(tree_hash "$1")" = "$2" ]
}

check_args() {
  printf '%s' "$1" | grep -Eq '^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$' || fail usage "invalid version: $1" 2
  printf '%s' "$2" | grep -Eq '^[0-9a-f]{64}$' || fail usage "invalid hash (64 lowercase hex digits): $2" 2
  for tool in find sort sed sha256sum tar od; do
    command -v "$tool" >/dev/null 2>&1 || fail missing-tool "the installer needs $tool on PATH"
  done
}

lock="$root/install.lock"
acquire_lock() {
  mkdir -p "$root/runtime" || fail io "cannot create $root/runtime"
  tries=0
  while ! mkdir "$lock" 2>/dev/null; do
    # mkdir is atomic on NFS and Lustre too. A lock older than 10 minutes belongs to an installer that died.
    if [ -n "$(find "$lock" -maxdepth 0 -mmin +10 2>/dev/null)" ]; then
      rm -rf "$lock"
      continue
    fi
    tries=$((tries + 1))
    [ "$tries" -ge 600 ] && fail lock-timeout "another install holds $lock (waited 60 s)"
    sleep 0.1
  done
  trap 'rm -rf "$lock"' EXIT
  trap 'exit 1' INT TERM HUP
  printf '%s %s\n' "$$" "$(hostname 2>/dev/null)" >"$lock/owner"
}

cmd="${1:-}"
case "$cmd" in
  hash)
    [ $# -eq 2 ] || fail usage "usage: install.sh hash DIR" 2
    [ -d "$2" ] || fail usage "not a directory: $2" 2
    problem=$(tree_check "$2") || fail bad-tree "$problem"
    emit "{\"ok\":true,\"action\":\"hash\",\"hash\":\"$(tree_hash "$2")\",\"files\":$(tree_files "$2" | wc -l | tr -d ' ')}"
    ;;
  check)
    [ $# -eq 3 ] || fail usage "usage: install.sh check VERSION HASH" 2
    check_args "$2" "$3"
    dest="$root/runtime/$2"
    have=$(installed_hash "$dest")
    if [ -n "$have" ] && up_to_date "$dest" "$3"; then installed=true; else installed=false; fi
    [ -n "$have" ] && have_json="\"$have\"" || have_json=null
    emit "{\"ok\":true,\"action\":\"check\",\"version\":$(json_str "$2"),\"hash\":\"$3\",\"installed\":$installed,\"installedHash\":$have_json,\"path\":$(json_str "$dest")}"
    ;;
  install)
    [ $# -eq 4 ] || fail usage "usage: install.sh install VERSION HASH ARCHIVE" 2
    check_args "$2" "$3"
    version=$2 hash=$3 archive=$4
    [ -f "$archive" ] || fail no-archive "no archive at $archive"
    dest="$root/runtime/$version"
    acquire_lock
    if up_to_date "$dest" "$hash"; then
      rm -f "$archive"
      emit "{\"ok\":true,\"action\":\"already-installed\",\"version\":$(json_str "$version"),\"hash\":\"$hash\",\"path\":$(json_str "$dest")}"
      exit 0
    fi
    tmp="$root/runtime/.tmp-$version-$$"
    { rm -rf "$tmp" && mkdir "$tmp"; } || fail io "cannot create $tmp"
    if [ "$(od -An -tx1 -N2 "$archive" | tr -d ' \n')" = 1f8b ]; then unpack='gzip -dc'; else unpack='cat'; fi
    # Look at the member names before extracting: nothing absolute, no "..", nothing odd.
    bad=$($unpack "$archive" | tar -tf - 2>&1 | grep -v '^[A-Za-z0-9._/-]*$' | head -n 1)
    members=$($unpack "$archive" | tar -tf - 2>/dev/null | grep -E '(^/|(^|/)\.\.(/|$))' | head -n 1)
    if [ -n "$bad$members" ]; then rm -rf "$tmp"; fail bad-archive "unsafe or unreadable member in $archive: $bad$members"; fi
    if ! $unpack "$archive" | tar -xf - -C "$tmp"; then rm -rf "$tmp"; fail bad-archive "cannot unpack $archive"; fi
    if ! problem=$(tree_check "$tmp"); then rm -rf "$tmp"; fail bad-archive "$problem"; fi
    got=$(tree_hash "$tmp")
    if [ "$got" != "$hash" ]; then
      rm -rf "$tmp"
      fail hash-mismatch "the archive's files hash to $got, not $hash (incomplete upload?)"
    fi
    printf '{"version":%s,"hash":"%s","installedAt":"%s"}\n' "$(json_str "$version")" "$hash" \
      "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$tmp/$MANIFEST"
    replaced=false
    old="$root/runtime/.old-$version-$$"
    if [ -e "$dest" ]; then
      mv "$dest" "$old" || { rm -rf "$tmp"; fail io "cannot move the old $dest aside"; }
      replaced=true
    fi
    if ! mv "$tmp" "$dest"; then
      [ "$replaced" = true ] && mv "$old" "$dest"
      rm -rf "$tmp"
      fail io "cannot rename $tmp to $dest"
    fi
    rm -rf "$old"
    rm -f "$archive"
    emit "{\"ok\":true,\"action\":\"installed\",\"version\":$(json_str "$version"),\"hash\":\"$hash\",\"replaced\":$replaced,\"path\":$(json_str "$dest")}"
    ;;
  *)
    fail usage "usage: install.sh {check VERSION HASH | install VERSION HASH ARCHIVE | hash DIR}" 2
    ;;
esac
