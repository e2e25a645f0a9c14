#!/usr/bin/env bash
# Set up motionscore in ./.venv on a machine that has only Python 3.11 and the package registries.
#
#   bash scripts/setup.sh          runtime: server, CLI and the ML stack (torch, audiocraft, diffusers)
#   bash scripts/setup.sh --dev    also the test tools and the PyPI `bpy` module (Blender 5.0.1)
#
# Re-running is cheap: pip skips what is already installed.
# Why a script and not just `pip install .`: audiocraft 1.3.0 pins torch==2.1.0, torchaudio<2.1.2,
# xformers<0.0.23 and av==11, none of which install next to a current torch. pip cannot override a
# dependency's `==` pin from pyproject.toml, so audiocraft, torchaudio and xformers go in with
# --no-deps and audiocraft's real imports are listed in requirements/audiocraft.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

DEV=0
for arg in "$@"; do
  case "$arg" in
    --dev) DEV=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
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
# pip's own conflict report is switched off (--no-warn-conflicts): it would always list audiocraft's
# stale pins, which we override on purpose. scripts/check_deps.py checks everything else instead.
# Each step's output goes to .venv/setup.log and is shown only when the step fails, so build
# backends' banners do not look like errors.
LOG=.venv/setup.log
: > "$LOG"
pip_install() {
  if ! .venv/bin/python -m pip --disable-pip-version-check install --quiet --no-warn-conflicts "$@" >>"$LOG" 2>&1; then
    echo "setup.sh: pip install $* failed; its output (from $LOG):" >&2
    grep -v "is ignored: it is neither a file nor a directory" "$LOG" | tail -40 >&2
    exit 1
  fi
}
pip_install --upgrade pip

echo "==> torch and torchaudio"
pip_install -r requirements/torch.txt
pip_install --no-deps -r requirements/no-deps.txt

echo "==> audiocraft's real dependencies"
pip_install -r requirements/audiocraft.txt

echo "==> motionscore itself (editable)"
if [ "$DEV" = 1 ]; then
  pip_install -e '.[ml,dev]'
else
  pip_install -e '.[ml]'
fi
.venv/bin/python scripts/check_deps.py
echo "==> done: .venv/bin/motionscore --help"
