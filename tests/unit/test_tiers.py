"""The test suite's own shape: three tiers, one fixture kit, no test module importing another.

- ``tests/unit``: pure: no subprocess, no server, no model framework (torch, audiocraft,
  diffusers, Ray, bpy); the tier a change is checked against in minutes.
- ``tests/models``: tiny torch backbones (shared checks in ``backbone_common.py``).
- ``tests/integration``: real servers on 127.0.0.1, Blender through the bpy module, Ray, OpenJD.
"""

from __future__ import annotations

import ast

from tests.kit.paths import REPO

TESTS = REPO / "tests"
TIERS = ("unit", "models", "integration")
#: What a unit test may not import (a process, a server, a model framework).
NOT_IN_UNIT = ("subprocess", "torch", "audiocraft", "diffusers", "ray", "bpy", "zmq", "multiprocessing")
#: Fixtures that start a server.
SERVER_FIXTURES = ("server_process", "shared_server", "server", "keyed_server")


def _imports(path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names.add(node.module or "")
    return names


def test_every_test_module_is_in_a_tier():
    loose = sorted(p.name for p in TESTS.glob("test_*.py"))
    assert loose == [], f"move these into tests/unit, tests/models or tests/integration: {loose}"
    counts = {tier: len(list((TESTS / tier).glob("test_*.py"))) for tier in TIERS}
    assert all(counts.values()), counts


def test_unit_tests_start_no_process_no_server_and_no_model_framework():
    for path in sorted((TESTS / "unit").glob("test_*.py")):
        banned = sorted(n for n in _imports(path) if n.split(".")[0] in NOT_IN_UNIT)
        assert not banned, f"{path.name} imports {banned}: it belongs in tests/models or tests/integration"
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
                servers = [a.arg for a in node.args.args if a.arg in SERVER_FIXTURES]
                assert not servers, f"{path.name}::{node.name} starts a server: it belongs in tests/integration"


def test_helpers_come_from_the_kit_never_from_another_test_module():
    for path in sorted(TESTS.rglob("*.py")):
        others = sorted(n for n in _imports(path) if n.startswith("tests.") and n.split(".")[-1].startswith("test_"))
        assert not others, f"{path.relative_to(REPO)} imports {others}: put the helper in tests/kit"
        relative = [node.module for node in ast.walk(ast.parse(path.read_text()))
                    if isinstance(node, ast.ImportFrom) and node.level and path.parent.name != "kit"]
        assert not relative, f"{path.relative_to(REPO)} imports {relative} relatively: import tests.kit.*"


def test_the_kit_needs_no_server_package():
    """The data generators shared/'s tests use run wherever shared/ does."""
    for path in sorted((TESTS / "kit").glob("*.py")):
        server = sorted(n for n in _imports(path) if n.startswith("motionscore.server"))
        assert not server, f"{path.name} imports {server}"
