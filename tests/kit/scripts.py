"""Load the project's stand-alone scripts (benchmarks/, scripts/) as modules, and run a benchmark's
``main`` in the test process.

A subprocess would pay torch's and the backbones' imports again (about 20 s each on two cores);
in the test process they are already loaded. What a script changes for its own run (thread
variables it sets on import, torch's thread count) is put back afterwards.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType

from pathlib import Path

from .paths import BENCHMARKS, REPO


def load_script(path: Path, name: str) -> ModuleType:
    """The script at ``path`` as a module called ``name`` (a fresh copy on every call); environment
    variables it sets on import (thread counts) are put back."""
    saved = dict(os.environ)
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return module


def load_benchmark(name: str) -> ModuleType:
    """benchmarks/NAME.py as a module."""
    return load_script(BENCHMARKS / f"{name}.py", f"benchmark_{name}")


def load_check_deps() -> ModuleType:
    """scripts/check_deps.py as a module."""
    return load_script(REPO / "scripts" / "check_deps.py", "check_deps")


def run_benchmark(name: str, argv: list[str]) -> int:
    """``main(argv)`` of benchmarks/NAME.py: its exit status (argparse's refusals included)."""
    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch is not None else None
    try:
        return load_benchmark(name).main(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    finally:
        if threads is not None:
            torch.set_num_threads(threads)
