"""Click to strip for a 60 s shot: the built-in engine against a server on this machine, side by side.

Run:  .venv/bin/python benchmarks/bench_builtin.py [--seconds 60] [--repeats 5]

In one headless Blender (the bpy module) with the add-on registered, the 120 BPM test rig of
tests/integration/blender_cases.py is scored with "Score this animation" (blocking, as under ``blender -b``):
Engine Built-in; Engine Automatic with nothing listening (the built-in take plus the wait for a
server that does not answer); and Engine Server against a real ``motionscore serve`` (synth) on
127.0.0.1, started here and warmed up first. Each figure is the median operator wall time over the
repeats: sampling the bones, the rhythm and tempo map, the music, writing the WAV and placing the
strip and markers. Prints the ratio built-in / server.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="motionscore-bench-"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the rig of tests/integration/blender_cases.py

import bpy  # noqa: E402

from tests.integration.blender_cases import build_rig_scene  # noqa: E402


def free_address() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def time_takes(engine: str, repeats: int) -> list[float]:
    """Operator wall times (s) of ``repeats`` takes with the panel's Engine set to ``engine``."""
    scene = bpy.context.scene
    scene.motionscore.engine = engine
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        status = bpy.ops.motionscore.score_animation(mode="BLOCKING")
        times.append(time.perf_counter() - started)
        assert status == {"FINISHED"}, (engine, scene.motionscore.last_error)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="shot length (s), at 24 fps")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="motionscore-bench-"))
    build_rig_scene(frames=(1, int(round(args.seconds * 24))))
    import motionscore.blender_addon as addon

    addon.register()
    bpy.ops.wm.save_as_mainfile(filepath=str(folder / "shot.blend"))
    figures = {}
    os.environ["MOTIONSCORE_SERVER"] = free_address()  # nothing listens there
    time_takes("BUILTIN", 1)  # first-call imports out of the figures
    figures["built-in"] = time_takes("BUILTIN", args.repeats)
    figures["automatic, no server"] = time_takes("AUTO", args.repeats)
    address = free_address()
    server = subprocess.Popen([sys.executable, "-m", "motionscore.server.cli", "serve", "--bind", address],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        from motionscore.shared.client import ScoreClient, ServerError

        deadline = time.monotonic() + 120
        while True:
            try:
                with ScoreClient(address, timeout=1.0) as client:
                    client.hello()
                break
            except ServerError:
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not answer in 120 s")
        os.environ["MOTIONSCORE_SERVER"] = address
        time_takes("SERVER", 1)
        figures["server (synth, 127.0.0.1)"] = time_takes("SERVER", args.repeats)
    finally:
        server.terminate()
        server.wait(10)
    print(f"{args.seconds:g} s shot at 24 fps, {args.repeats} takes each, median operator wall time:")
    for name, times in figures.items():
        print(f"  {name:28s} {statistics.median(times):6.3f} s   (min {min(times):.3f}, max {max(times):.3f})")
    ratio = statistics.median(figures["built-in"]) / statistics.median(figures["server (synth, 127.0.0.1)"])
    print(f"  built-in / server: {ratio:.2f}x")


if __name__ == "__main__":
    main()
