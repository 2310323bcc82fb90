#!/usr/bin/env bash
# Update requirements.lock: install pyproject's dependencies at their newest allowed versions into a
# throw-away venv (torch pinned to the CPU build, as scripts/install.sh does) and record every version.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
venv="$(mktemp -d)"
trap 'rm -rf "$venv"' EXIT
"$PYTHON" -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check "torch==2.13.0"
"$venv/bin/pip" install -q --disable-pip-version-check -e ".[dev,app]"
{
  echo "# Every Python package of the environment, pinned; scripts/install.sh installs from it."
  echo "# Update with: bash scripts/lock.sh (then run the tests and commit it)."
  "$venv/bin/pip" freeze --disable-pip-version-check --exclude-editable
} > requirements.lock.tmp
mv requirements.lock.tmp requirements.lock
echo "wrote requirements.lock ($(grep -vc '^#' requirements.lock) packages)"
