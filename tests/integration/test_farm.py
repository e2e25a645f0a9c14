"""Farm jobs: an OpenJD job bundle run by the real `openjd` CLI through a local server, and a
Flamenco job type compiled under Node against a stub of Flamenco's author API, its task commands
then run against a local server."""

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from motionscore.server.cli import main
from motionscore.server.packaging.farm_jobs import flamenco_job_type, list_shots, openjd_template

from tests.kit.servers import start_server, stop_server

pytest.importorskip("bpy")
OPENJD = Path(sys.executable).with_name("openjd")

_CHAIN = {"Hips": [("Spine", (0, 10, 0)), ("LeftUpLeg", (9, -5, 0)), ("RightUpLeg", (-9, -5, 0))],
          "Spine": [("Head", (0, 40, 0)), ("LeftArm", (18, 35, 0)), ("RightArm", (-18, 35, 0))],
          "LeftUpLeg": [("LeftLeg", (0, -42, 0))], "LeftLeg": [("LeftFoot", (0, -40, 0))],
          "RightUpLeg": [("RightLeg", (0, -42, 0))], "RightLeg": [("RightFoot", (0, -40, 0))],
          "LeftArm": [("LeftForeArm", (28, 0, 0))], "LeftForeArm": [("LeftHand", (25, 0, 0))],
          "RightArm": [("RightForeArm", (-28, 0, 0))], "RightForeArm": [("RightHand", (-25, 0, 0))]}


def write_bvh(path: Path, bpm: float, seconds: float = 4.0, fps: int = 30) -> None:
    """A CMU-style skeleton whose hips bounce and arms swing on the beat at ``bpm``."""
    joints = []

    def joint(name, offset, depth):
        pad = "  " * depth
        head = "ROOT" if depth == 0 else "JOINT"
        channels = "6 Xposition Yposition Zposition Zrotation Xrotation Yrotation" if depth == 0 else \
            "3 Zrotation Xrotation Yrotation"
        joints.append(name)
        lines = [f"{pad}{head} {name}", f"{pad}{{", f"{pad}  OFFSET {offset[0]} {offset[1]} {offset[2]}",
                 f"{pad}  CHANNELS {channels}"]
        children = _CHAIN.get(name, [])
        for child, child_offset in children:
            lines += joint(child, child_offset, depth + 1)
        if not children:
            lines += [f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET 0 5 0", f"{pad}  }}"]
        return lines + [f"{pad}}}"]

    hierarchy = joint("Hips", (0, 0, 0), 0)
    frames = int(seconds * fps)
    rows = []
    for i in range(frames):
        phase = 2 * math.pi * (i / fps) * bpm / 60.0
        bounce = 6.0 * abs(math.sin(phase / 2))
        values = [0.0, 95.0 + bounce, 0.0, 0.0, 0.0, 0.0]
        for name in joints[1:]:
            swing = 35.0 * math.sin(phase) if "Arm" in name else (15.0 * math.sin(phase) if "Leg" in name else 0.0)
            values += [swing, 0.0, 0.0]
        rows.append(" ".join(f"{v:.4f}" for v in values))
    path.write_text("HIERARCHY\n" + "\n".join(hierarchy) + f"\nMOTION\nFrames: {frames}\nFrame Time: {1 / fps:.6f}\n"
                    + "\n".join(rows) + "\n")


@pytest.fixture
def shots(tmp_path):
    folder = tmp_path / "shots"
    folder.mkdir()
    write_bvh(folder / "shot_a.bvh", 110)
    write_bvh(folder / "shot_b.bvh", 128)
    (folder / "notes.txt").write_text("not a shot")
    return folder


@pytest.fixture
def server(tmp_path):
    address, proc = start_server(tmp_path / "server.log", "--no-warm-up")
    yield address
    stop_server(proc)


def test_openjd_check_accepts_the_bundle_and_openjd_run_scores_each_shot(shots, server, tmp_path, capsys):
    if not OPENJD.exists():
        pytest.skip("openjd-cli is not installed (bash scripts/setup.sh --dev)")
    bundle = tmp_path / "bundle"
    assert main(["farm", "openjd", "-o", str(bundle), "--shots", str(shots), "--server", server]) == 0
    assert "2 shots, one task each" in capsys.readouterr().out
    check = subprocess.run([str(OPENJD), "check", str(bundle / "template.yaml")], capture_output=True, text=True,
                           timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    run = subprocess.run([str(OPENJD), "run", str(bundle / "template.yaml"), "-p", f"ShotsFolder={shots}",
                          "-p", f"ServerAddress={server}"], capture_output=True, text=True, timeout=400)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "Chunks run: 2" in run.stdout or "Tasks run: 2" in run.stdout
    takes = sorted(p.name for p in (shots / "motionscore").glob("*.wav"))
    assert len(takes) == 2 and takes[0].startswith("shot_a") and takes[1].startswith("shot_b")
    assert (shots / "shot_a.blend").is_file() and (shots / "shot_b.blend").is_file()


def test_the_openjd_template_has_one_task_per_shot_and_the_job_parameters(shots):
    template = openjd_template(shots, list_shots(shots), save=True)
    assert template["specificationVersion"] == "jobtemplate-2023-09"
    params = {p["name"]: p for p in template["parameterDefinitions"]}
    assert params["ShotsFolder"]["type"] == "PATH" and params["ServerAddress"]["type"] == "STRING"
    assert {"ServerKey", "ClientKey", "Motionscore"} <= set(params)
    step = template["steps"][0]
    assert step["parameterSpace"]["taskParameterDefinitions"][0]["range"] == ["shot_a.bvh", "shot_b.bvh"]
    assert step["script"]["actions"]["onRun"]["args"] == [
        "batch", "{{Param.ShotsFolder}}/{{Task.Param.Shot}}", "--server", "{{Param.ServerAddress}}", "--save"]
    assert step["stepEnvironments"][0]["variables"]["MOTIONSCORE_SERVER_KEY"] == "{{Param.ServerKey}}"


def test_farm_exports_refuse_bad_input_and_never_overwrite(tmp_path, shots, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["farm", "openjd", "-o", str(tmp_path / "b"), "--shots", str(empty)]) == 2
    assert "no .blend or .bvh shots" in capsys.readouterr().err
    assert main(["farm", "openjd", "-o", str(tmp_path / "b"), "--shots", str(tmp_path / "missing")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert main(["farm", "flamenco", "-o", str(tmp_path / "f")]) == 0
    target = tmp_path / "f" / "motionscore_score_shots.js"
    target.write_text("// the user's edits")
    assert main(["farm", "flamenco", "-o", str(tmp_path / "f")]) == 2
    assert "exists; pass --force" in capsys.readouterr().err and target.read_text() == "// the user's edits"
    assert main(["farm", "flamenco", "-o", str(tmp_path / "f"), "--force", "--shots", str(shots)]) == 0
    assert "shot_a.bvh;shot_b.bvh" in capsys.readouterr().out


def _compile_flamenco(tmp_path, settings: dict, module: str = "bl_ext.user_default.motionscore"):
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node is not installed")
    job_type = tmp_path / "job.js"
    job_type.write_text(flamenco_job_type(module=module))
    settings_file = tmp_path / "settings.json"
    settings_file.write_text(json.dumps(settings))
    return subprocess.run([node, str(Path(__file__).with_name("flamenco_stub.js")), str(job_type), str(settings_file)],
                          capture_output=True, text=True, timeout=60)


def test_the_flamenco_job_type_compiles_one_blender_task_per_shot(tmp_path):
    run = _compile_flamenco(tmp_path, {"shots_folder": "/farm/shots", "shots": "a.blend; b.bvh",
                                       "server_address": "tcp://render-box:5757", "server_key": "/keys/server.key",
                                       "client_key": "/keys/worker.key", "save_blends": True})
    assert run.returncode == 0, run.stderr
    job = json.loads(run.stdout)
    assert {s["key"] for s in job["settings"]} >= {"shots_folder", "shots", "server_address", "save_blends"}
    assert [t["name"] for t in job["tasks"]] == ["score-a.blend", "score-b.bvh"]
    for task, shot in zip(job["tasks"], ("/farm/shots/a.blend", "/farm/shots/b.bvh")):
        (command,) = task["commands"]
        assert task["type"] == "blender" and command["type"] == "blender-render"
        params = command["parameters"]
        assert params["exe"] == "{blender}" and params["args"][:3] == ["--python-exit-code", "1", "--python-expr"]
        expr = params["args"][3]
        assert "bl_ext.user_default.motionscore.batch_job" in expr
        argv = json.loads(expr[expr.index(".main(") + 6:-2])
        assert argv == [shot, "--server", "tcp://render-box:5757", "--server-key", "/keys/server.key",
                        "--client-key", "/keys/worker.key", "--save"]
    bad = _compile_flamenco(tmp_path, {"shots_folder": "/farm", "shots": "a.blend;notes.txt"})
    assert bad.returncode == 3 and "notes.txt is not a .blend or .bvh shot" in bad.stderr
    none = _compile_flamenco(tmp_path, {"shots_folder": "/farm", "shots": " ; "})
    assert none.returncode == 3 and "no shots given" in none.stderr


def test_a_compiled_flamenco_task_scores_its_shot(tmp_path, shots, server):
    """The task's Python expression, run by this environment's Python with the bpy module (as
    Blender's --python-expr runs it, the add-on importable as motionscore.blender_addon)."""
    run = _compile_flamenco(tmp_path, {"shots_folder": str(shots), "shots": "shot_b.bvh", "server_address": server},
                            module="motionscore.blender_addon")
    assert run.returncode == 0, run.stderr
    expr = json.loads(run.stdout)["tasks"][0]["commands"][0]["parameters"]["args"][3]
    task = subprocess.run([sys.executable, "-c", expr], capture_output=True, text=True, timeout=300)
    assert task.returncode == 0, task.stdout[-2000:] + task.stderr[-2000:]
    result = json.loads([ln for ln in task.stdout.splitlines() if ln.startswith("MOTIONSCORE_RESULT ")][-1][19:])
    assert result["ok"] and Path(result["audio"]).is_file() and result["saved"].endswith("shot_b.blend")
