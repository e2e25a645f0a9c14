"""Check that the installed packages agree with each other, except the stale pins we override.

audiocraft 1.3.0 pins torch==2.1.0, torchaudio<2.1.2, xformers<0.0.23 and av==11 and asks for
gradio, demucs, torchtext and torchvision it never imports; scripts/setup.sh installs it (and
torchaudio, xformers) with --no-deps on purpose, so pip's own conflict report would always shout
about them. This script checks every *other* installed distribution's requirements instead and
prints one line, or the problems and exit status 1.

    .venv/bin/python scripts/check_deps.py
"""

from __future__ import annotations

import sys
from importlib import metadata

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

#: Installed with --no-deps because their declared pins are stale (requirements/no-deps.txt).
OVERRIDDEN = ("audiocraft", "torchaudio", "xformers")


def problems(overridden: tuple[str, ...] = OVERRIDDEN) -> list[str]:
    """One line per unmet requirement of an installed distribution not in ``overridden``."""
    installed = {}
    for dist in metadata.distributions():
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


def main() -> int:
    found = problems()
    if found:
        print("dependency check failed:", *found, sep="\n  ", file=sys.stderr)
        return 1
    print(f"==> dependencies consistent ({', '.join(OVERRIDDEN)} installed without their stale pins, on purpose)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
