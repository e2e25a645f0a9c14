"""The code's shape: packages by role, no import circles, and the dependency direction of the design.

Imports are read from the source (ast), every ``import``/``from ... import`` anywhere in a module,
function-level ones included: a lazy import that closes a circle is still a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.kit.paths import REPO
#: Top-level folder -> the installed package name it maps to (pyproject's package-dir).
ROOTS = {"server": "motionscore.server", "shared": "motionscore.shared", "blender_addon": "motionscore.blender_addon"}


def _modules() -> dict[str, Path]:
    """Installed module name -> source file, for the three packages (the add-on's shared/ symlink
    is the same source as shared/ and is counted once, as motionscore.shared)."""
    found = {}
    for folder, package in ROOTS.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            rel = path.relative_to(REPO / folder)
            if folder == "blender_addon" and rel.parts[0] == "shared":
                continue
            parts = list(rel.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


def _canonical(name: str) -> str:
    """The add-on imports shared/ as ``motionscore.blender_addon.shared``: the same modules."""
    prefix = "motionscore.blender_addon.shared"
    return "motionscore.shared" + name[len(prefix):] if name == prefix or name.startswith(prefix + ".") else name


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports explicitly (not the implicit parent packages)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        if ROOTS["blender_addon"] in name:  # relative imports resolve against the add-on's real package
            package = package.replace("motionscore.shared", "motionscore.blender_addon.shared")
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[:len(base) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                submodules = [f"{source}.{alias.name}" for alias in node.names]
                # `from . import sibling` imports the sibling, not the package it sits in
                targets = submodules if all(_canonical(s) in modules for s in submodules) else [source, *submodules]
            for target in map(_canonical, targets):
                if target in modules and target != name:
                    graph[name].add(target)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_circle_finder_finds_circles():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles_in_server_shared_and_addon():
    graph = import_graph()
    assert len(graph) > 60  # the walk saw the real tree
    assert "motionscore.server.generation.backbones.musicgen" in graph
    assert circles(graph) == []


def test_imports_follow_the_design_direction():
    """shared imports nothing of server or the add-on; the server never reaches the add-on's bpy glue."""
    graph = import_graph()
    for name, targets in graph.items():
        if name.startswith("motionscore.shared"):
            assert not [t for t in targets if not t.startswith("motionscore.shared")], name
        if name.startswith("motionscore.server"):
            assert not [t for t in targets if t.startswith("motionscore.blender_addon")], name


#: What Blender's own Python lacks: shared/ (inside the extension) and the add-on never import them,
#: so that the built-in engine runs in any Blender (tests/integration/test_blender.py blocks them for real).
NOT_IN_BLENDER = ("torch", "librosa", "scipy", "soundfile")


@pytest.mark.parametrize("folder, banned", [("server", "bpy"), ("shared", "bpy")]
                         + [(folder, name) for folder in ("shared", "blender_addon") for name in NOT_IN_BLENDER])
def test_no_forbidden_library(folder, banned):
    for path in (REPO / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            assert not [n for n in names if n.split(".")[0] == banned], f"{path} imports {banned}"


def package_of(module: str) -> str:
    """The package a module belongs to for the package-level rules: a server subpackage
    (``motionscore.server.generation``), the server's own top modules (``motionscore.server``:
    the CLI), ``motionscore.shared`` or ``motionscore.blender_addon``."""
    parts = module.split(".")
    if parts[1] == "server" and len(parts) > 3 or (parts[1] == "server" and len(parts) == 3
                                                   and (REPO / "server" / parts[2] / "__init__.py").is_file()):
        return ".".join(parts[:3])
    return ".".join(parts[:2])


def test_no_import_circles_between_packages():
    """Packages import each other one way too: e.g. generation never reaches evaluation and back,
    training and evaluation share data through server/data, not through each other."""
    graph = import_graph()
    packages: dict[str, set[str]] = {}
    for name, targets in graph.items():
        packages.setdefault(package_of(name), set()).update(package_of(t) for t in targets)
    for name in packages:
        packages[name].discard(name)
    assert circles(packages) == []


def test_music_analysis_and_data_sets_have_one_home_each():
    """Beat tracking and metrics live in server/analysis (generation and evaluation both use them);
    the data sets in server/data; the pipeline is named for what it is."""
    graph = import_graph()
    users = {package_of(n) for n, targets in graph.items() if "motionscore.server.analysis.metrics" in targets}
    assert {"motionscore.server.generation", "motionscore.server.evaluation"} <= users
    assert not [n for n, targets in graph.items() if package_of(n) == "motionscore.server.generation"
                and any(package_of(t) == "motionscore.server.evaluation" for t in targets)]
    assert (REPO / "server" / "generation" / "pipeline.py").is_file()
    assert not (REPO / "server" / "serving" / "scoring.py").exists()


def test_server_is_grouped_by_role():
    loose = sorted(p.name for p in (REPO / "server").glob("*.py") if p.name != "__init__.py")
    assert len(loose) <= 6, loose
    packages = sorted(p.parent for p in (REPO / "server").glob("*/__init__.py"))
    assert {p.name for p in packages} >= {"serving", "generation", "model", "training", "evaluation", "packaging",
                                          "analysis", "data"}
    for package in packages + sorted((REPO / "server").glob("*/*/__init__.py")):
        init = package / "__init__.py" if package.is_dir() else package
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc.splitlines()) <= 3, f"{init} needs a one- or two-line docstring"


#: The most lines a module may have: one concept a newcomer reads in one sitting.
MAX_MODULE_LINES = 500


def test_no_module_is_over_the_size_a_newcomer_reads_at_once():
    sizes = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    assert sizes and all(sizes.values())
    too_long = {name: lines for name, lines in sizes.items() if lines > MAX_MODULE_LINES}
    assert not too_long, f"split these modules along their concepts: {too_long}"


def test_pyproject_installs_every_package():
    """A non-editable install only gets the packages pyproject lists: every folder with an
    __init__.py under server/ (and shared/, blender_addon/) must be among them."""
    import tomllib

    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    for folder, package in ROOTS.items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder)
            assert ".".join([package, *rel.parts]) in listed, f"{init.parent} is not in pyproject's packages"


def test_dependency_check_accepts_this_environment_and_reports_a_broken_pin(monkeypatch):
    """scripts/check_deps.py (run by setup.sh in place of pip's noisy conflict report)."""
    from importlib import metadata

    from tests.kit.scripts import load_check_deps

    check_deps = load_check_deps()
    assert check_deps.problems() == []

    class Fake:
        version = "1.0"
        metadata = {"Name": "needs-old-numpy"}
        requires = ["numpy==0.1", "not-a-package-anywhere>=1", "colorama; sys_platform == 'nonexistent'"]

    real = metadata.distributions
    monkeypatch.setattr(check_deps.metadata, "distributions", lambda **where: [*real(**where), Fake()])
    found = check_deps.problems()
    assert len(found) == 2
    assert "needs numpy==0.1, but" in found[0] and "not-a-package-anywhere>=1, which is not installed" in found[1]
