#!/usr/bin/env bash
# Install everything the tests need (runtime + test tools + the PyPI bpy module) into ./.venv,
# then run the whole test suite. Extra arguments go to pytest (e.g. -k rhythm, -m "not slow").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
exec .venv/bin/python -m pytest "$@"
