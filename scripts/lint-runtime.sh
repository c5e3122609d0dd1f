#!/usr/bin/env bash
# The runtime's own lint: every shell file passes shellcheck, and the Python runs on 3.8 (the oldest python a
# site's module may give the agent) and passes pyflakes.
set -euo pipefail
cd "$(dirname "$0")/.."
# test/fixtures holds job scripts dask-jobqueue wrote, kept byte for byte: what it printed, not the project's shell.
mapfile -t shells < <(git ls-files '*.sh' ':!test/fixtures/')
shellcheck "${shells[@]}"
python3 - <<'PY'
import ast, pathlib, sys
bad = 0
for p in sorted(pathlib.Path("runtime").rglob("*.py")):
    try:
        ast.parse(p.read_text(encoding="utf-8"), filename=str(p), feature_version=(3, 8))
    except SyntaxError as e:
        print("%s:%s: not Python 3.8: %s" % (p, e.lineno, e.msg))
        bad += 1
sys.exit(1 if bad else 0)
PY
pyflakes3 runtime
