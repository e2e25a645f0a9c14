#!/usr/bin/env bash
# Install everything the tests need (runtime + test tools + the PyPI bpy module) into ./.venv,
# then run the whole test suite. Extra arguments go to pytest (e.g. -k rhythm, -m "not slow").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev

# Blender 5.1+ embed Python 3.13: where one is found, the add-on's tests also run in the bpy 5.2.3
# module (.venv-bpy313, from requirements/lock-bpy313.txt); without one those tests are skipped.
PY313=""
for candidate in "${PYTHON313:-}" python3.13 "$(pyenv root 2>/dev/null)"/versions/3.13*/bin/python3.13; do
  # (a pyenv shim is on PATH even where that version is not selected: try each one for real)
  if [ -n "$candidate" ] && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
    PY313=$candidate
    break
  fi
done
if [ -n "$PY313" ]; then
  if [ ! -x .venv-bpy313/bin/python ]; then
    echo "==> .venv-bpy313 with $("$PY313" --version) and the bpy 5.2.3 module (Blender 5.2)"
    .venv/bin/uv venv --quiet --python "$PY313" .venv-bpy313
  fi
  .venv/bin/uv pip install --quiet --python .venv-bpy313/bin/python --require-hashes -r requirements/lock-bpy313.txt
else
  echo "==> no Python 3.13 found: the Blender 5.2 (bpy 5.2.3) tests will be skipped"
fi
# One process by default: the suite passes on two pytest-xdist workers too (MOTIONSCORE_TEST_WORKERS=2,
# Ray's tests kept in one xdist group), but on two cores that was no faster (docs/results.md)
# and Ray's own tests must never run at once (`ray stop` stops every Ray on the machine).
WORKERS=${MOTIONSCORE_TEST_WORKERS:-0}
if [ "$WORKERS" = 0 ]; then
  exec .venv/bin/python -m pytest "$@"
fi
exec .venv/bin/python -m pytest -n "$WORKERS" --dist loadgroup "$@"
