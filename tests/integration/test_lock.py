"""The lock files: what setup.sh installs is exactly what they name, and they cover every input."""

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.kit.paths import REPO
from tests.kit.scripts import load_check_deps
REQ = REPO / "requirements"


def _inputs() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"]) + project["optional-dependencies"]["ml"] + project["optional-dependencies"]["dev"]
    for name in ("torch.txt", "audiocraft.txt"):
        lines += [ln.strip() for ln in (REQ / name).read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    return [Requirement(line) for line in lines]


def test_this_environment_is_exactly_the_dev_lock():
    """The suite runs in what `setup.sh --dev` installed: every locked version, nothing unlocked."""
    assert load_check_deps().lock_problems(REQ / "lock-dev.txt") == []


def test_every_input_is_locked_at_a_version_it_allows():
    dev = load_check_deps().read_lock(REQ / "lock-dev.txt")
    for req in _inputs():
        name = canonicalize_name(req.name)
        assert name in dev, f"{req} is not in lock-dev.txt: run bash scripts/lock.sh"
        assert req.specifier.contains(dev[name], prereleases=True), f"lock-dev.txt has {name}=={dev[name]}, input {req}"
    no_deps = load_check_deps().read_lock(REQ / "lock-no-deps.txt")
    for line in (REQ / "no-deps.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            req = Requirement(line)
            assert req.specifier.contains(no_deps[canonicalize_name(req.name)])


def test_the_runtime_lock_is_the_dev_lock_without_the_dev_tools():
    check = load_check_deps()
    runtime, dev = check.read_lock(REQ / "lock.txt"), check.read_lock(REQ / "lock-dev.txt")
    assert runtime and all(dev.get(name) == version for name, version in runtime.items())
    assert {"pytest", "hypothesis", "bpy"} <= set(dev) - set(runtime)
    assert {"torch", "diffusers", "transformers", "pyzmq", "msgpack"} <= set(runtime)


@pytest.mark.parametrize("name", ["lock.txt", "lock-dev.txt", "lock-no-deps.txt", "uv.txt", "lock-bpy313.txt",
                                  "lock-windows-x64.txt", "lock-no-deps-windows-x64.txt", "lock-macos-arm64.txt",
                                  "lock-no-deps-macos-arm64.txt"])
def test_every_pin_carries_a_hash(name):
    """--require-hashes refuses a lock with an unhashed pin; check it here, before a fresh setup does."""
    text = (REQ / name).read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.strip())
    pins = [b for b in blocks if re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*==", b)]
    assert pins and all("--hash=sha256:" in block for block in pins)


def test_lock_problems_names_every_kind_of_difference(tmp_path):
    check = load_check_deps()
    lock = tmp_path / "lock.txt"
    lock.write_text("numpy==1.26.4 \\\n    --hash=sha256:00\n# via x\nmsgpack==1.1.0 \\\n    --hash=sha256:11\n")
    universe = (lock, tmp_path / "none.txt")
    (tmp_path / "none.txt").write_text("")
    no_deps = check.read_lock(REQ / "lock-no-deps.txt")
    good = {"numpy": "1.26.4", "msgpack": "1.1.0", "pip": "24.0", "motionscore": "0.1.0", **no_deps}
    assert check.lock_problems(lock, good, universe) == []
    installed = {k: v for k, v in {**good, "numpy": "2.0.0", "requests": "2.0"}.items() if k != "msgpack"}
    problems = check.lock_problems(lock, installed, universe)
    assert "numpy==1.26.4 is locked but 2.0.0 is installed" in problems
    assert "msgpack==1.1.0 is locked but not installed" in problems
    assert "requests 2.0 is installed but no lock names it" in problems
    assert len(problems) == 3


def test_the_setup_installs_from_the_locks_only():
    """setup.py reaches packages through the lock files alone (no unpinned `pip install X`), and
    setup.sh only finds a Python 3.11 and runs it."""
    script = (REPO / "scripts" / "setup.py").read_text()
    assert '"--require-hashes", "-r", str(lock)' in script and '"--require-hashes", "-r", str(REQ / "uv.txt")' in script
    assert '"--require-hashes", "--no-deps", "-r", str(REQ / no_deps)' in script and '"--lock", str(lock)' in script
    import ast

    calls = [node for node in ast.walk(ast.parse(script)) if isinstance(node, ast.Call)
             and getattr(node.func, "id", "") == "run_logged"]
    constants = [[a.value for a in call.args if isinstance(a, ast.Constant)] for call in calls]
    assert len(calls) == 5 and all("-r" in c or "-e" in c or "--index-url" in c for c in constants), constants
    assert "exec \"$PY\" scripts/setup.py \"$@\"" in (REPO / "scripts" / "setup.sh").read_text()


def test_every_platform_has_its_locks_at_the_linux_versions():
    """Windows x64 and macOS arm64 run the same releases as the Linux lock wherever both have a package."""
    check = load_check_deps()
    linux = check.read_lock(REQ / "lock.txt")
    for name in ("lock-windows-x64.txt", "lock-macos-arm64.txt"):
        other = check.read_lock(REQ / name)
        assert other["torch"] == linux["torch"] and "motionscore" not in other
        assert {k: v for k, v in other.items() if k in linux and linux[k] != v} == {}, name
        assert not [k for k in other if k.startswith("nvidia-")]  # PyPI's CUDA wheels are Linux-only
    assert "xformers" not in check.read_lock(REQ / "lock-no-deps-macos-arm64.txt")  # no macOS wheels


@pytest.mark.slow
def test_every_lock_finds_a_wheel_for_its_platform():
    """uv resolves each platform's lock for that platform with a wheel for every package but the
    source-only releases every platform builds alike (scripts/check_locks.py; needs the registry)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "check_locks.py"),
                           "--uv", str(Path(sys.executable).with_name("uv"))], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("ok ") == 6


def test_vendored_copies_on_sys_path_are_not_installed_packages():
    """Importing ray puts its vendored psutil and colorama (ray/thirdparty_files) on sys.path; they
    are part of ray's locked wheel, not unlocked packages of this environment."""
    import sys

    pytest.importorskip("ray")
    assert any(path.endswith("thirdparty_files") for path in sys.path)
    assert load_check_deps().lock_problems(REQ / "lock-dev.txt") == []
