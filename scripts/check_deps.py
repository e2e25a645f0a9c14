"""Check the installed packages: exactly the locked versions, and consistent with each other.

With ``--lock FILE`` every package the lock names must be installed at the locked version, and
nothing may be installed that no lock of this project names (``requirements/lock-dev.txt`` is the
superset), except this project itself and the installers (pip, uv): a fresh clone gets exactly
the versions the README's figures were measured with.

audiocraft 1.3.0 pins torch==2.1.0, torchaudio<2.1.2, xformers<0.0.23 and av==11 and asks for
gradio, demucs, torchtext and torchvision it never imports; scripts/setup.sh installs it (and
torchaudio, xformers) with --no-deps on purpose, so pip's own conflict report would always shout
about them. This script checks every *other* installed distribution's requirements instead and
prints one line, or the problems and exit status 1.

    .venv/bin/python scripts/check_deps.py [--lock requirements/lock-dev.txt]
"""

from __future__ import annotations

import re
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

#: Installed with --no-deps because their declared pins are stale (requirements/no-deps.txt).
OVERRIDDEN = ("audiocraft", "torchaudio", "xformers")


def environment_distributions() -> list:
    """The distributions installed in this environment's site-packages. Not every folder on
    sys.path: importing ray puts its vendored copies of psutil and colorama (ray/thirdparty_files,
    part of ray's locked wheel) on it, and they are not packages of ours."""
    paths = sorted({sysconfig.get_paths()[key] for key in ("purelib", "platlib")})
    return [d for d in metadata.distributions(path=paths) if d.metadata["Name"]]


def problems(overridden: tuple[str, ...] = OVERRIDDEN) -> list[str]:
    """One line per unmet requirement of an installed distribution not in ``overridden``."""
    installed = {}
    for dist in environment_distributions():
        name = dist.metadata["Name"]
        if name:
            installed[canonicalize_name(name)] = dist
    skip = {canonicalize_name(n) for n in overridden}
    found = []
    for key, dist in sorted(installed.items()):
        if key in skip:
            continue
        for line in dist.requires or []:
            try:
                req = Requirement(line)
            except InvalidRequirement:
                continue
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            have = installed.get(canonicalize_name(req.name))
            if have is None:
                found.append(f"{dist.metadata['Name']} {dist.version} needs {req}, which is not installed")
            elif req.specifier and not req.specifier.contains(have.version, prereleases=True):
                found.append(f"{dist.metadata['Name']} {dist.version} needs {req}, but {have.version} is installed")
    return found


REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements"
#: Installed but named by no lock, on purpose: this project (editable) and the installers.
UNLOCKED = ("motionscore", "pip", "uv")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def read_lock(path: Path) -> dict[str, str]:
    """{canonical name: version} of a lock file's ``name==version`` lines (hashes and comments skipped)."""
    pins = {}
    for line in Path(path).read_text().splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def _release(version: str) -> str:
    """A version without its local label: torch 2.14.1+cu128 from PyTorch's own index is release 2.14.1."""
    return version.split("+", 1)[0]


def lock_problems(lock: Path, installed: dict[str, str] | None = None,
                  universe: tuple[Path, ...] | None = None,
                  no_deps_lock: Path = REQUIREMENTS / "lock-no-deps.txt") -> list[str]:
    """One line per difference between the installed distributions ({canonical name: version},
    default: this environment's) and ``lock`` plus ``no_deps_lock``: a locked package missing or at
    another version, or an installed one that no lock in ``universe`` (default: ``lock``, the
    Linux dev lock, ``no_deps_lock`` and uv's) names at that version."""
    if installed is None:
        installed = {canonicalize_name(d.metadata["Name"]): _release(d.version) for d in environment_distributions()}
    if universe is None:
        universe = (lock, REQUIREMENTS / "lock-dev.txt", no_deps_lock, REQUIREMENTS / "uv.txt")
    wanted = {**read_lock(lock), **read_lock(no_deps_lock)}
    known = {}
    for path in universe:
        known.update(read_lock(path))
    found = []
    for name, version in sorted(wanted.items()):
        have = installed.get(name)
        if have is None:
            found.append(f"{name}=={version} is locked but not installed")
        elif have != version:
            found.append(f"{name}=={version} is locked but {have} is installed")
    for name, version in sorted(installed.items()):
        if name in wanted or name in UNLOCKED:
            continue
        if known.get(name) != version:
            found.append(f"{name} {version} is installed but no lock names it"
                         + (f" (the locks have {known[name]})" if name in known else ""))
    return found


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    import argparse

    parser = argparse.ArgumentParser(prog="check_deps.py", description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, default=None, help="e.g. requirements/lock-dev.txt")
    parser.add_argument("--no-deps-lock", type=Path, default=REQUIREMENTS / "lock-no-deps.txt",
                        help="the platform's lock of what is installed without dependencies")
    args = parser.parse_args(argv)
    lock = args.lock
    found = problems()
    if lock is not None:
        found += lock_problems(lock, no_deps_lock=args.no_deps_lock)
    if found:
        print("dependency check failed:", *found, sep="\n  ", file=sys.stderr)
        if lock is not None:
            print("  (rerun scripts/setup.sh; if the lock itself is stale, see 'Upgrading dependencies' in the README)",
                  file=sys.stderr)
        return 1
    exact = f"exactly the versions in {lock.name}, " if lock is not None else ""
    print(f"==> dependencies: {exact}consistent ({', '.join(OVERRIDDEN)} installed without their stale pins, "
          "on purpose)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
