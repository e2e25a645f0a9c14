#!/usr/bin/env bash
# Set up motionscore in ./.venv on a machine that has only Python 3.11 and the package registries.
#
#   bash scripts/setup.sh          runtime: server, CLI, the ML stack (torch, audiocraft, diffusers), Ray Serve
#   bash scripts/setup.sh --dev    also the test tools and the PyPI `bpy` module (Blender 5.0.1)
#
# It finds a Python 3.11 ($PYTHON, else python3.11, else python3) and runs scripts/setup.py, which
# does the work on Linux x86_64, Windows x64 and macOS arm64 alike (on Windows run it directly:
# `py -3.11 scripts\setup.py`). Every package comes at the exact version and hash of the platform's
# lock files in requirements/ (scripts/lock.sh regenerates them).
set -euo pipefail
cd "$(dirname "$0")/.."
for arg in "$@"; do
  case "$arg" in
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
  esac
done
PY=${PYTHON:-python3.11}
if ! command -v "$PY" >/dev/null 2>&1 || ! "$PY" -c 'import sys' >/dev/null 2>&1; then
  PY=python3
fi
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
  echo "setup.sh: motionscore needs Python 3.11 (the Python Blender 4.2-5.0 embed); found $("$PY" --version 2>&1)." >&2
  echo "          Set PYTHON=/path/to/python3.11 and run again." >&2
  exit 2
fi
exec "$PY" scripts/setup.py "$@"
