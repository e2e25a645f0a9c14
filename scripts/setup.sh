#!/usr/bin/env bash
# Set up motionscore in ./.venv on a machine that has only Python 3.11 and the package registries.
#
#   bash scripts/setup.sh          runtime: server, CLI, the ML stack (torch, audiocraft, diffusers), Ray Serve
#   bash scripts/setup.sh --dev    also the test tools and the PyPI `bpy` module (Blender 5.0.1)
#
# Every package comes at the exact version (and hash) of the lock files in requirements/ (see
# scripts/lock.sh, which regenerates them): a fresh clone gets the versions the README's figures
# were measured with. uv installs them (pinned in requirements/uv.txt, bootstrapped with pip); a
# re-run is cheap, uv skips what is already installed.
# audiocraft 1.3.0 pins torch==2.1.0, torchaudio<2.1.2, xformers<0.0.23 and av==11, none of which
# install next to a current torch, and asks for packages it never imports (gradio, torchtext): it and
# xformers go in with --no-deps (requirements/lock-no-deps.txt), audiocraft's real imports are in
# requirements/audiocraft.txt, and the stale pins are lifted in requirements/overrides.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

DEV=0
for arg in "$@"; do
  case "$arg" in
    --dev) DEV=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $arg (use --dev or nothing)" >&2; exit 2 ;;
  esac
done

PY=${PYTHON:-python3.11}
if ! command -v "$PY" >/dev/null 2>&1; then
  PY=python3
fi
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
  echo "setup.sh: motionscore needs Python 3.11 (the Python Blender 4.2-5.0 embed); found $("$PY" --version 2>&1)." >&2
  echo "          Set PYTHON=/path/to/python3.11 and run again." >&2
  exit 2
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $("$PY" --version)"
  "$PY" -m venv .venv
fi
# Each step's output goes to .venv/setup.log and is shown only when the step fails, so build
# backends' banners do not look like errors.
LOG=.venv/setup.log
: > "$LOG"
run_logged() {
  if ! "$@" >>"$LOG" 2>&1; then
    echo "setup.sh: $* failed; its output (from $LOG):" >&2
    grep -v "is ignored: it is neither a file nor a directory" "$LOG" | tail -40 >&2
    exit 1
  fi
}
LOCK=requirements/lock.txt
[ "$DEV" = 1 ] && LOCK=requirements/lock-dev.txt

echo "==> uv (the installer, from requirements/uv.txt)"
run_logged .venv/bin/python -m pip --disable-pip-version-check install --quiet --no-deps --require-hashes \
  -r requirements/uv.txt
UV=(.venv/bin/uv pip install --python .venv/bin/python --quiet)

echo "==> the locked packages ($LOCK; torch and its CUDA libraries are the large part)"
run_logged "${UV[@]}" --require-hashes -r "$LOCK"
run_logged "${UV[@]}" --require-hashes --no-deps -r requirements/lock-no-deps.txt

echo "==> motionscore itself (editable)"
run_logged "${UV[@]}" --no-deps -e .
.venv/bin/python scripts/check_deps.py --lock "$LOCK"
echo "==> done: .venv/bin/motionscore --help"
