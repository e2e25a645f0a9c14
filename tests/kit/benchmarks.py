"""Run a benchmark script's ``main`` in the test process.

A subprocess would pay torch's and the backbones' imports again (about 20 s each on two cores);
in the test process they are already loaded. What a script changes for its own run (thread
variables it sets on import, torch's thread count) is put back afterwards.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType

from .paths import BENCHMARKS


def load_benchmark(name: str) -> ModuleType:
    """benchmarks/NAME.py as a module (a fresh copy on every call)."""
    saved = dict(os.environ)
    try:
        spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return module


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
