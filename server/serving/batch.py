"""``motionscore batch``: score many shots through headless Blender, one process per shot.

Each shot runs ``blender_addon/batch_job.py`` in a fresh process (the bpy module of this
environment, or a ``blender`` binary on PATH with ``--blender``), so a crash or a broken file
only fails that shot; the others go on. The server must be running (``motionscore serve``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from motionscore.shared.builtin import ENGINE_ENV
from motionscore.shared.client import ADDRESS_ENV, CLIENT_KEY_ENV, SERVER_KEY_ENV, ScoreClient, ServerError
from motionscore.shared.take_record import RESULT_TAG
JOB = Path(__file__).resolve().parents[2] / "blender_addon" / "batch_job.py"
SUPPORTED = (".blend", ".bvh")


def job_command(path: Path, save: bool, blender: str | None) -> list[str]:
    extra = ["--save"] if save else []
    if blender:
        return [blender, "-b", "--factory-startup", "--python", str(JOB), "--", str(path), *extra]
    return [sys.executable, "-m", "motionscore.blender_addon.batch_job", str(path), *extra]


def run_batch(files: list[str], address: str, save: bool = False, blender: str | None = None,
              timeout: float = 3600.0, out=sys.stderr, server_key: str | None = None,
              client_key: str | None = None) -> list[dict]:
    """Score each file; returns one result dict per file (``ok``, ``error`` or ``audio``...).
    ``server_key``/``client_key`` (CurveZMQ key files) reach the Blender jobs through the
    environment, as the add-on reads them."""
    if blender is None and importlib.util.find_spec("bpy") is None:
        blender = shutil.which("blender")
        if blender is None:
            raise RuntimeError("neither the bpy module nor a `blender` binary is available "
                               "(install the dev environment: bash scripts/setup.sh --dev)")
    with ScoreClient(address, timeout=5.0, server_key=server_key, client_key=client_key) as client:
        client.hello()  # fail once, clearly, instead of once per shot
    results = []
    # The shots go to this server: never quietly to the add-on's built-in engine.
    env = {**os.environ, ADDRESS_ENV: address, ENGINE_ENV: "server"}
    for variable, value in ((SERVER_KEY_ENV, server_key), (CLIENT_KEY_ENV, client_key)):
        if value:
            env[variable] = str(Path(value).resolve())
    for index, name in enumerate(files, 1):
        path = Path(name)
        print(f"[{index}/{len(files)}] {path} ...", file=out, flush=True)
        started = time.monotonic()
        if path.suffix.lower() not in SUPPORTED or not path.is_file():
            reason = "no such file" if not path.is_file() else f"unsupported file type {path.suffix!r} (use .blend or .bvh)"
            results.append({"file": str(path), "ok": False, "error": reason, "seconds": 0.0})
            print(f"[{index}/{len(files)}] {path}: FAILED: {reason}", file=out, flush=True)
            continue
        try:
            proc = subprocess.run(job_command(path.resolve(), save, blender), capture_output=True, text=True,
                                  timeout=timeout, env=env)
            lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_TAG)]
            if lines:
                result = json.loads(lines[-1][len(RESULT_TAG):])
            else:
                tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                result = {"file": str(path), "ok": False, "error": f"Blender exited with {proc.returncode}: {tail}"}
        except subprocess.TimeoutExpired:
            result = {"file": str(path), "ok": False, "error": f"timed out after {timeout:g} s"}
        result["seconds"] = round(time.monotonic() - started, 2)
        status = "ok" if result["ok"] else f"FAILED: {result['error']}"
        print(f"[{index}/{len(files)}] {path}: {status} ({result['seconds']:.1f} s)", file=out, flush=True)
        results.append(result)
    return results


def summary_table(results: list[dict]) -> str:
    rows = [("shot", "status", "alignment", "tempo map", "audio / error")]
    for r in results:
        if r["ok"]:
            align = "n/a" if r.get("alignment") is None else f"{r['alignment']:.2f}"
            rows.append((Path(r["file"]).name, "ok", align, r.get("map", ""), r.get("audio", "")))
        else:
            rows.append((Path(r["file"]).name, "FAILED", "", "", r["error"]))
    widths = [max(len(str(row[i])) for row in rows) for i in range(4)]
    lines = ["  ".join(f"{row[i]:<{widths[i]}}" for i in range(4)) + f"  {row[4]}" for row in rows]
    lines.insert(1, "-" * max(len(line) for line in lines))
    ok = sum(r["ok"] for r in results)
    lines.append(f"{ok} of {len(results)} shots scored")
    return "\n".join(lines)


__all__ = ["run_batch", "summary_table", "ServerError"]
