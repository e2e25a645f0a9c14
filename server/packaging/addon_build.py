"""Build the installable Blender extension zip (``motionscore addon build``).

The zip holds the add-on (``blender_addon/``), the project's ``shared/`` package copied inside it
(one source of truth: the build copies it, nobody keeps a copy by hand), and pyzmq, msgpack, mido and
packaging wheels for every Python and platform Blender ships, listed in the manifest. It is built and validated with
Blender's own extension tool, which the PyPI ``bpy`` wheel carries.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO_ADDON = Path(__file__).resolve().parents[2] / "blender_addon"
REPO_SHARED = Path(__file__).resolve().parents[2] / "shared"

#: Blender platform name -> pip platform tag (pip also accepts older compatible tags).
PLATFORMS = {
    "linux-x64": "manylinux_2_28_x86_64",
    "windows-x64": "win_amd64",
    "macos-arm64": "macosx_14_0_arm64",
    "macos-x64": "macosx_14_0_x86_64",
}
#: Pythons embedded by Blender: 3.11 in 4.2-5.0, 3.13 from 5.1.
PYTHONS = ("3.11", "3.13")
#: Bundled in the extension: the wire (pyzmq, msgpack) and MIDI tempo maps (mido, and packaging, which
#: mido reads its version with; both pure Python).
WHEEL_PACKAGES = ("pyzmq", "msgpack", "mido", "packaging")


class BuildError(Exception):
    """The build failed: one-line reason."""


@dataclass
class BuildResult:
    zip_path: Path
    wheels: list[str]


def blender_ext_tool() -> Path:
    """Path of Blender's extension command-line tool inside the installed bpy wheel."""
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        raise BuildError("the bpy module is not installed (run `bash scripts/setup.sh --dev`): "
                         "its extension tool validates and builds the package")
    root = Path(list(spec.submodule_search_locations)[0])
    tools = sorted(root.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    if not tools:
        raise BuildError(f"no blender_ext.py found under {root}")
    return tools[-1]


def _pinned(package: str) -> str:
    try:
        return f"{package}=={importlib.metadata.version(package)}"
    except importlib.metadata.PackageNotFoundError:
        return package


def download_wheels(dest: Path, platforms: list[str], pythons: tuple[str, ...] = PYTHONS, log=print) -> list[Path]:
    """pip-download the wheels of WHEEL_PACKAGES for each platform and Python."""
    dest.mkdir(parents=True, exist_ok=True)
    for platform in platforms:
        for python in pythons:
            abi = "cp" + python.replace(".", "")
            log(f"  wheels for {platform}, Python {python}")
            cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                   "--only-binary=:all:", "--no-deps", "--dest", str(dest), "--platform", PLATFORMS[platform],
                   "--python-version", python, "--implementation", "cp", "--abi", abi, "--abi", "abi3",
                   "--abi", "none", *[_pinned(p) for p in WHEEL_PACKAGES]]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ["pip failed"])[-1]
                raise BuildError(f"cannot download wheels for {platform} / Python {python}: {last}")
    return sorted(dest.glob("*.whl"))


def stage(staging: Path, wheels: list[Path], platforms: list[str]) -> None:
    """Lay out the extension source: add-on modules, shared/ inside it, wheels, manifest."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "shared")
    shutil.copytree(REPO_ADDON, staging, ignore=ignore)
    shutil.copytree(REPO_SHARED, staging / "shared", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (staging / "wheels").mkdir()
    for wheel in wheels:
        shutil.copy2(wheel, staging / "wheels" / wheel.name)
    manifest = (REPO_ADDON / "blender_manifest.toml").read_text()
    listed = ",\n".join(f'  "./wheels/{w.name}"' for w in wheels)
    extra = f"wheels = [\n{listed},\n]\nplatforms = [{', '.join(repr(p).replace(chr(39), chr(34)) for p in platforms)}]\n"
    head, sep, tail = manifest.partition("[permissions]")
    (staging / "blender_manifest.toml").write_text(head + extra + "\n" + sep + tail)


def build(output_dir: Path, platforms: list[str] | None = None, wheel_cache: Path | None = None,
          log=print) -> BuildResult:
    """Build and validate ``motionscore-<version>.zip`` into ``output_dir``."""
    platforms = platforms or list(PLATFORMS)
    unknown = [p for p in platforms if p not in PLATFORMS]
    if unknown:
        raise BuildError(f"unknown platform(s) {', '.join(unknown)}; choose from {', '.join(PLATFORMS)}")
    tool = blender_ext_tool()
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="motionscore-addon-") as tmp:
        tmp = Path(tmp)
        log("downloading pyzmq and msgpack wheels")
        wheels = download_wheels(wheel_cache or tmp / "wheels", platforms, log=log)
        staging = tmp / "motionscore"
        stage(staging, wheels, platforms)
        log("validating with Blender's extension tool")
        for args in (["validate", str(staging)],
                     ["build", "--source-dir", str(staging), "--output-dir", str(output_dir)]):
            proc = subprocess.run([sys.executable, str(tool), *args], capture_output=True, text=True)
            if proc.returncode != 0:
                detail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
                raise BuildError(f"blender_ext.py {args[0]} failed: {detail[-1] if detail else proc.returncode}")
    zips = sorted(output_dir.glob("motionscore-*.zip"), key=lambda p: p.stat().st_mtime)
    if not zips:
        raise BuildError(f"the extension tool wrote no zip into {output_dir}")
    return BuildResult(zips[-1], [w.name for w in wheels])
