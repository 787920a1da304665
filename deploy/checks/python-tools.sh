#!/usr/bin/env bash
# Installs the Python tools pinned in deploy/checks/requirements.txt into .local/venv (git-
# ignored), and again only when that file changes; prints the venv's path. Used by
# deploy/checks/run.sh (checkov, kubernetes-validate) and by tests/tests/openapi.rs
# (openapi-spec-validator, openapi-python-client). Concurrent callers (test processes run in
# parallel) wait on a lock, so one installs and the others reuse. Needs python3 with venv.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
REQUIREMENTS="$ROOT/deploy/checks/requirements.txt"
VENV="$ROOT/.local/venv"
STAMP="$VENV/.requirements.sha256"

mkdir -p "$ROOT/.local"
exec 9> "$ROOT/.local/venv.lock"
flock 9
want="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
if ! [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  echo "==> installing deploy/checks/requirements.txt into .local/venv" >&2
  [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS" >&2
  echo "$want" > "$STAMP"
fi
echo "$VENV"
