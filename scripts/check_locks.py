"""Check each platform's lock as far as this machine can: uv resolves it for that platform and finds
a wheel for every locked package, except the few published as source only everywhere.

    .venv/bin/python scripts/check_locks.py [--uv .venv/bin/uv]

For every lock (Linux x86_64, Windows x64, macOS arm64; runtime and no-deps) it runs uv's dry-run
install for that platform (``--python-platform``, Python 3.11, ``--require-hashes --no-deps``),
first allowing wheels only. A package with no wheel for the platform is then read from uv's error
and allowed as a source build for the next try. It passes when the packages allowed that way are
the same on every platform: source-only releases (pure Python, e.g. audiocraft, antlr4) that the
Linux setup installs too. A compiled package without a wheel for one platform fails the check.
Prints one line per lock and exits 1 on a failure. Needs the package registry, not the platform.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQ = ROOT / "requirements"
#: lock file -> uv's --python-platform
LOCKS = {
    "lock.txt": "x86_64-manylinux_2_28", "lock-no-deps.txt": "x86_64-manylinux_2_28",
    "lock-windows-x64.txt": "x86_64-pc-windows-msvc", "lock-no-deps-windows-x64.txt": "x86_64-pc-windows-msvc",
    "lock-macos-arm64.txt": "aarch64-apple-darwin", "lock-no-deps-macos-arm64.txt": "aarch64-apple-darwin",
}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==")
_NO_WHEEL = re.compile(r"Because ([A-Za-z0-9._-]+)==\S+ has no (?:usable )?wheels")


def locked_names(lock: Path) -> list[str]:
    return [m.group(1).lower() for m in map(_PIN.match, lock.read_text().splitlines()) if m]


def source_only(uv: str, lock: Path, platform: str) -> tuple[set[str], str]:
    """(packages with no wheel for ``platform``, uv's last error or "" when it resolved)."""
    allowed: set[str] = set()
    names = locked_names(lock)
    with tempfile.TemporaryDirectory() as target:
        for _ in range(len(names) + 1):
            binary = [f"--only-binary={n}" for n in names if n not in allowed]
            proc = subprocess.run([uv, "pip", "install", "--dry-run", "--quiet", "--target", target,
                                   "--python-platform", platform, "--python-version", "3.11", "--require-hashes",
                                   "--no-deps", "-r", str(lock), *binary], capture_output=True, text=True,
                                  env={**os.environ, "MACOSX_DEPLOYMENT_TARGET": "14.0"})
            if proc.returncode == 0:
                return allowed, ""
            missing = _NO_WHEEL.search(proc.stderr)
            if missing is None or missing.group(1).lower() in allowed:
                return allowed, proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "uv failed"
            allowed.add(missing.group(1).lower())
    return allowed, "too many tries"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="check_locks.py", description=__doc__.splitlines()[0])
    parser.add_argument("--uv", default=str(ROOT / ".venv" / "bin" / "uv"))
    args = parser.parse_args(argv)
    # The locks are independent and uv mostly waits on the registry: check them all at once.
    with ThreadPoolExecutor(max_workers=len(LOCKS)) as pool:
        futures = {name: pool.submit(source_only, args.uv, REQ / name, platform) for name, platform in LOCKS.items()}
        results = {name: futures[name].result() + (LOCKS[name],) for name in LOCKS}
    baseline = results["lock.txt"][0] | results["lock-no-deps.txt"][0]
    failed = False
    for name, (allowed, error, platform) in results.items():
        extra = allowed - baseline
        ok = not error and not extra
        failed |= not ok
        count = len(locked_names(REQ / name))
        detail = error or (f"no wheel for {', '.join(sorted(extra))}" if extra else
                           f"wheels for all but the source-only releases ({', '.join(sorted(allowed)) or 'none'})")
        print(f"{'ok ' if ok else 'BAD'} {name:32s} {platform:24s} {count:4d} packages: {detail}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
