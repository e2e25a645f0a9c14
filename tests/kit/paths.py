"""Where things are, from any test module."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: Real third-party data beside the repository (never committed); tests that need it skip without it.
REAL_DATA = REPO.parent / "shared" / "data" / "real"
EXAMPLE_MOTION = REPO / "examples" / "dance.npz"
BENCHMARKS = REPO / "benchmarks"
