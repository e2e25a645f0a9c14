#!/usr/bin/env bash
# Regenerate the lock files (exact versions with hashes) that scripts/setup.sh installs from.
#
#   bash scripts/lock.sh             keep today's versions where the inputs still allow them
#   bash scripts/lock.sh --upgrade   take the newest versions the inputs allow
#
# Inputs: pyproject.toml (dependencies, extras ml, scale and dev), requirements/torch.txt,
# requirements/audiocraft.txt, requirements/overrides.txt (stale pins lifted) and
# requirements/no-deps.txt (installed without dependencies). Outputs, all committed:
#   requirements/lock-dev.txt   everything `setup.sh --dev` installs
#   requirements/lock.txt       the runtime subset (`setup.sh`), at the same versions
#   requirements/lock-no-deps.txt audiocraft and xformers
#   requirements/uv.txt         the uv release setup.sh bootstraps with pip
#   requirements/lock-bpy313.txt the bpy 5.2.3 module on Python 3.13 (Blender 5.2), for the tests
#   requirements/lock-windows-x64.txt, lock-no-deps-windows-x64.txt   the runtime on Windows x64
#   requirements/lock-macos-arm64.txt, lock-no-deps-macos-arm64.txt   the runtime on macOS arm64
# The main locks are for Linux x86_64 with Python 3.11 (manylinux_2_28, the machines here and Blender's).
# After regenerating: run the suite and the benchmarks, update the README's figures, commit both.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-.venv/bin/uv}
if [ ! -x "$UV" ]; then
  echo "lock.sh: no uv at $UV; run scripts/setup.sh first or set UV=/path/to/uv" >&2
  exit 2
fi
UPGRADE=()
case "${1:-}" in
  --upgrade) UPGRADE=(--upgrade) ;;
  "") ;;
  *) echo "lock.sh: unknown option $1 (use --upgrade or nothing)" >&2; exit 2 ;;
esac
TARGET=(--python-version 3.11 --python-platform x86_64-manylinux_2_28 --generate-hashes --quiet
        --no-header --custom-compile-command "bash scripts/lock.sh")
INPUTS=(pyproject.toml requirements/torch.txt requirements/audiocraft.txt --override requirements/overrides.txt)
# Existing locks are the starting point (uv keeps a locked version unless --upgrade or an input moved).
"$UV" pip compile "${INPUTS[@]}" --extra ml --extra scale --extra dev "${TARGET[@]}" "${UPGRADE[@]}" \
  -o requirements/lock-dev.txt
"$UV" pip compile "${INPUTS[@]}" --extra ml --extra scale -c requirements/lock-dev.txt "${TARGET[@]}" \
  -o requirements/lock.txt
"$UV" pip compile requirements/no-deps.txt --no-deps "${TARGET[@]}" -o requirements/lock-no-deps.txt
echo "uv==$("$UV" --version | awk '{print $2}')" | "$UV" pip compile - "${TARGET[@]}" -o requirements/uv.txt
# The server's runtime on Windows x64 and macOS arm64 (torch 2.14.1 needs macOS 14), at the Linux
# lock's versions wherever the platform allows (-c). xformers has no macOS wheels: that no-deps lock
# is audiocraft alone (and MusicGen does not run there; docs/install.md says so).
for target in "x86_64-pc-windows-msvc windows-x64" "aarch64-apple-darwin macos-arm64"; do
  set -- $target
  MACOSX_DEPLOYMENT_TARGET=14.0 "$UV" pip compile "${INPUTS[@]}" --extra ml --extra scale -c requirements/lock-dev.txt \
    --python-version 3.11 --python-platform "$1" --generate-hashes --quiet --no-header \
    --custom-compile-command "bash scripts/lock.sh" "${UPGRADE[@]}" -o "requirements/lock-$2.txt"
  grep -v '^xformers' requirements/no-deps.txt > /tmp/motionscore-no-deps-$2.txt
  [ "$2" = windows-x64 ] && cp requirements/no-deps.txt /tmp/motionscore-no-deps-$2.txt
  MACOSX_DEPLOYMENT_TARGET=14.0 "$UV" pip compile /tmp/motionscore-no-deps-$2.txt --no-deps --python-version 3.11 \
    --python-platform "$1" --generate-hashes --quiet --no-header --custom-compile-command "bash scripts/lock.sh" \
    -o "requirements/lock-no-deps-$2.txt"
done
# Blender 5.2's Python (3.13) for the add-on's tests there: the bpy 5.2.3 module and what it needs.
"$UV" pip compile requirements/bpy313.txt --python-version 3.13 --python-platform x86_64-manylinux_2_28 \
  --generate-hashes --quiet --no-header --custom-compile-command "bash scripts/lock.sh" "${UPGRADE[@]}" \
  -o requirements/lock-bpy313.txt
echo "lock.sh: wrote requirements/lock-dev.txt, lock.txt, lock-no-deps.txt, uv.txt, lock-bpy313.txt and the"
echo "         Windows x64 / macOS arm64 locks; check them: .venv/bin/python scripts/check_locks.py"
