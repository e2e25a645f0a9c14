"""Set up motionscore in ./.venv on Linux x86_64, Windows x64 or macOS arm64 (Python 3.11 and the
package registries are all it needs).

    python3.11 scripts/setup.py          runtime: server, CLI, the ML stack (torch, audiocraft, diffusers), Ray Serve
    python3.11 scripts/setup.py --dev    also the test tools and the PyPI bpy module (Linux x86_64 only)

(``bash scripts/setup.sh`` runs this.) Every package comes at the exact version and hash of this
platform's lock files in requirements/ (scripts/lock.sh writes them): Linux ``lock.txt`` /
``lock-dev.txt`` / ``lock-no-deps.txt``, Windows ``lock-windows-x64.txt`` /
``lock-no-deps-windows-x64.txt``, macOS ``lock-macos-arm64.txt`` / ``lock-no-deps-macos-arm64.txt``.
uv installs them (pinned in requirements/uv.txt, bootstrapped with pip); a re-run is cheap.
audiocraft 1.3.0 pins torch==2.1.0, torchaudio<2.1.2, xformers<0.0.23 and av==11, none of which
install next to a current torch: it and xformers go in with --no-deps, their real imports are in
requirements/audiocraft.txt and the stale pins are lifted in requirements/overrides.txt.

``--torch-index URL`` then replaces torch and torchaudio with the same versions from another index
(e.g. PyTorch's CUDA wheels for Windows, https://download.pytorch.org/whl/cu128): PyPI's Windows and
macOS torch are CPU/MPS builds. That index is outside the lock (no hashes checked), on purpose opt-in.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQ = ROOT / "requirements"
VENV = ROOT / ".venv"
#: platform key -> (runtime lock, dev lock or None, no-deps lock)
LOCKS = {
    "linux-x64": ("lock.txt", "lock-dev.txt", "lock-no-deps.txt"),
    "windows-x64": ("lock-windows-x64.txt", None, "lock-no-deps-windows-x64.txt"),
    "macos-arm64": ("lock-macos-arm64.txt", None, "lock-no-deps-macos-arm64.txt"),
}


class SetupError(Exception):
    """One line for the user; exit 2 for their setup (wrong Python, platform), 1 for a failed step."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def this_platform() -> str:
    machine = platform.machine().lower()
    key = {("linux", "x86_64"): "linux-x64", ("win32", "amd64"): "windows-x64", ("win32", "x86_64"): "windows-x64",
           ("darwin", "arm64"): "macos-arm64"}.get((sys.platform, machine))
    if key is None:
        raise SetupError(f"no lock for {sys.platform} {machine}; locked platforms: Linux x86_64, Windows x64, "
                         f"macOS arm64", code=2)
    return key


def venv_tool(name: str) -> Path:
    folder = VENV / ("Scripts" if os.name == "nt" else "bin")
    return folder / (name + (".exe" if os.name == "nt" else ""))


def run_logged(log: Path, *command: str) -> None:
    """Run a step with its output appended to ``log``; on failure show the log's tail and stop."""
    with open(log, "a") as out:
        proc = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    if proc.returncode != 0:
        lines = [line for line in log.read_text(errors="replace").splitlines()
                 if "is ignored: it is neither a file nor a directory" not in line]
        sys.stderr.write("\n".join(lines[-40:]) + "\n")
        raise SetupError(f"{' '.join(command[:4])} ... failed; its output is in {log}")


def setup(dev: bool, torch_index: str | None) -> None:
    if sys.version_info[:2] != (3, 11):
        raise SetupError(f"motionscore's server needs Python 3.11 (the Python Blender 4.2-5.0 embed); this is "
                         f"{platform.python_version()}. Run this script with a Python 3.11.", code=2)
    key = this_platform()
    runtime, dev_lock, no_deps = LOCKS[key]
    if dev and dev_lock is None:
        raise SetupError(f"--dev (the test tools, the bpy module) is locked for Linux x86_64 only; on {key} set up "
                         f"the runtime (without --dev)", code=2)
    lock = REQ / (dev_lock if dev else runtime)
    python = venv_tool("python")
    if not python.exists():
        print(f"==> creating .venv with Python {platform.python_version()}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    log = VENV / "setup.log"
    log.write_text("")
    print("==> uv (the installer, from requirements/uv.txt)")
    run_logged(log, str(python), "-m", "pip", "--disable-pip-version-check", "install", "--quiet", "--no-deps",
               "--require-hashes", "-r", str(REQ / "uv.txt"))
    uv = [str(venv_tool("uv")), "pip", "install", "--python", str(python), "--quiet"]
    print(f"==> the locked packages ({lock.relative_to(ROOT)}; torch is the large part)")
    run_logged(log, *uv, "--require-hashes", "-r", str(lock))
    run_logged(log, *uv, "--require-hashes", "--no-deps", "-r", str(REQ / no_deps))
    if torch_index:
        from check_deps import read_lock  # scripts/ is this script's folder

        pins = read_lock(lock)
        print(f"==> torch {pins['torch']} and torchaudio {pins['torchaudio']} from {torch_index}")
        run_logged(log, *uv, "--reinstall-package", "torch", "--reinstall-package", "torchaudio", "--no-deps",
                   "--index-url", torch_index, f"torch=={pins['torch']}", f"torchaudio=={pins['torchaudio']}")
    print("==> motionscore itself (editable)")
    run_logged(log, *uv, "--no-deps", "-e", str(ROOT))
    check = subprocess.run([str(python), str(ROOT / "scripts" / "check_deps.py"), "--lock", str(lock),
                            "--no-deps-lock", str(REQ / no_deps)], cwd=ROOT)
    if check.returncode != 0:
        raise SetupError("the installed packages are not exactly the lock's (see above)")
    print(f"==> done: {venv_tool('motionscore').relative_to(ROOT)} --help")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="setup.py", description=__doc__.splitlines()[0])
    parser.add_argument("--dev", action="store_true", help="also the test tools and the bpy module (Linux x86_64)")
    parser.add_argument("--torch-index", default=None, metavar="URL",
                        help="then take torch and torchaudio (same versions) from this index, e.g. PyTorch's CUDA wheels")
    args = parser.parse_args(argv)
    try:
        setup(args.dev, args.torch_index)
    except SetupError as exc:
        print(f"setup: {exc}", file=sys.stderr)
        return exc.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
