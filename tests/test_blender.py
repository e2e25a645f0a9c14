"""The add-on in real (headless) Blender: the PyPI bpy module, the built extension zip installed as
a user would, and a real server process on 127.0.0.1."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port, start_server, stop_server

pytest.importorskip("bpy")
pytestmark = pytest.mark.blender
CASES = Path(__file__).with_name("blender_cases.py")


@pytest.fixture(scope="module")
def addon_zip(tmp_path_factory):
    from motionscore.server.packaging.addon_build import build

    return str(build(tmp_path_factory.mktemp("addon"), platforms=["linux-x64"], log=lambda _: None).zip_path)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    address = f"tcp://127.0.0.1:{free_port()}"
    proc = subprocess.Popen([sys.executable, "-m", "motionscore.server.cli", "serve", "--bind", address],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from motionscore.shared.client import ScoreClient, ServerError

    for _ in range(120):
        try:
            with ScoreClient(address, timeout=0.5) as client:
                client.hello()
            break
        except ServerError:
            pass
    yield address
    proc.terminate()
    proc.wait(10)


def run_case(case, tmp_path, **args):
    env = {**os.environ, "BLENDER_USER_RESOURCES": str(tmp_path / "blender-user")}
    env.pop("MOTIONSCORE_SERVER", None)
    proc = subprocess.run([sys.executable, str(CASES), case, json.dumps(args)], capture_output=True, text=True,
                          timeout=300, env=env, cwd=tmp_path)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(lines[-1][7:]), proc.stderr


def test_score_twice_adds_a_take(addon_zip, server, tmp_path):
    blend = tmp_path / "shot.blend"
    result, _ = run_case("score", tmp_path, zip=addon_zip, server=server, runs=2, blend=str(blend))
    assert result["runs"] == [["FINISHED"], ["FINISHED"]] and result["error"] == ""
    first, second = result["strips"]
    for strip in (first, second):
        assert strip["start"] == 1 and strip["duration"] == 120 and strip["file"]
        props = strip["props"]
        assert props["motionscore_seed"] == 5 and props["motionscore_prompt"] == "with congas"
        assert props["motionscore_backbone"] == "synth" and props["motionscore_genre"]
        assert 0 <= props["motionscore_alignment"] <= 1
    assert first["mute"] and not second["mute"] and first["channel"] != second["channel"]
    assert first["props"]["motionscore_take"] == 1 and second["props"]["motionscore_take"] == 2
    written = sorted(p.name for p in (tmp_path / "motionscore").iterdir())
    assert written == ["shot_Scene_take001.wav", "shot_Scene_take002.wav"]
    # Takes follow the user's umask (readable by a farm's group or a render user), not 0600.
    mask = os.umask(0)
    os.umask(mask)
    for name in written:
        assert (tmp_path / "motionscore" / name).stat().st_mode & 0o777 == 0o666 & ~mask


def test_range_from_frame_10_at_23976(addon_zip, server, tmp_path):
    result, _ = run_case("score", tmp_path, zip=addon_zip, server=server, frames=[10, 105], fps=24000, fps_base=1001)
    (strip,) = result["strips"]
    assert result["fps"] == pytest.approx(23.976, abs=1e-3)
    assert strip["start"] == 10 and strip["end"] == 106 and strip["duration"] == 96
    import soundfile as sf

    info = sf.info(strip["path"])  # an unsaved .blend: written to the temporary folder
    assert abs(info.frames / info.samplerate - 96 * 1001 / 24000) < 1e-3


def test_preview_range_and_variations(addon_zip, server, tmp_path):
    result, _ = run_case("score", tmp_path, zip=addon_zip, server=server, preview=[25, 72], variations=3)
    strips = result["strips"]
    assert len(strips) == 3 and all(s["start"] == 25 and s["duration"] == 48 for s in strips)
    assert [s["props"]["motionscore_seed"] for s in strips] == [5, 6, 7]
    assert [s["mute"] for s in strips] == [True, True, False]


def test_server_down_fails_clearly_without_a_strip(addon_zip, tmp_path):
    result, stderr = run_case("score", tmp_path, zip=addon_zip, server=f"tcp://127.0.0.1:{free_port()}", timeout=1.0)
    ((kind, message),) = result["runs"]
    assert kind == "RuntimeError" and "no motionscore server answered" in message and result["strips"] == []
    assert "no motionscore server answered" in result["error"]
    assert "no motionscore server answered" in stderr


def test_no_camera_and_mixamo_names(addon_zip, server, tmp_path):
    result, stderr = run_case("score", tmp_path, zip=addon_zip, server=server, camera=False, names="mixamo")
    assert result["runs"] == [["FINISHED"]] and len(result["strips"]) == 1
    assert "no camera" in stderr


def test_ui_path_does_not_block_and_places_the_take(addon_zip, server, tmp_path):
    # A 2-minute shot: long enough that the server reports progress over many timer polls even on a
    # loaded machine (a 4 s shot can finish between two polls, and then no progress is ever shown).
    frames = 24 * 120
    result, _ = run_case("async", tmp_path, zip=addon_zip, server=server, frames=[1, frames])
    assert result["running_at_return"]  # the operator returned before the take was made
    assert not result["running"] and result["error"] == ""
    assert len(result["strips"]) == 1 and result["strips"][0]["duration"] == frames
    assert any(0.0 < p < 1.0 for p in result["progress_seen"])  # the panel showed the job under way


def test_ui_cancel_leaves_the_scene_untouched(addon_zip, server, tmp_path):
    result, _ = run_case("async", tmp_path, zip=addon_zip, server=server, frames=[1, 24 * 240], cancel_after=5)
    assert result["strips"] == [] and result["error"] == "cancelled" and not result["running"]


def test_auto_start_local_server(addon_zip, tmp_path):
    result, _ = run_case("autostart", tmp_path, zip=addon_zip, address=f"tcp://127.0.0.1:{free_port()}")
    assert result["status"] == ["FINISHED"] and result["started"] and len(result["strips"]) == 1


def test_panel_draws_every_state(addon_zip, tmp_path):
    logs, _ = run_case("panel", tmp_path, zip=addon_zip)
    assert ["operator", "motionscore.score_animation"] in logs["idle"]
    assert ["operator", "motionscore.cancel"] in logs["running"] and ["progress", 0.4, "generating"] in logs["running"]
    assert ["label", "no motionscore server answered"] in logs["error"]
    # The tempo row: the override field and its x2 / x1/2 buttons.
    assert ["prop", "tempo"] in logs["idle"] and ["prop", "meter"] in logs["idle"]
    assert ["operator_property", "motionscore.scale_tempo", "factor", 2.0] in logs["idle"]
    assert ["operator_property", "motionscore.scale_tempo", "factor", 0.5] in logs["idle"]
    # After a take whose motion also fits other tempi: one button each that sets the tempo.
    assert ["label", "Also fits:"] in logs["alternatives"]
    for bpm in (119.7, 128.4):
        assert ["operator_property", "motionscore.use_tempo", "bpm", pytest.approx(bpm)] in logs["alternatives"]
    assert not [e for e in logs["idle"] if "motionscore.use_tempo" in e]


def test_a_take_with_alternative_tempi(addon_zip, tmp_path):
    result, _ = run_case("place_results", tmp_path, zip=addon_zip)
    assert result["two"]["last_alternatives"] == [119.7, 128.4]
    assert any("also fits 119.7 or 128.4 BPM" in r for r in result["two"]["reports"])
    # The next take without alternatives clears them: no stale buttons.
    assert result["none"]["last_alternatives"] == [0.0, 0.0]
    assert not any("also fits" in r for r in result["none"]["reports"])
    assert result["tempo_after_use"] == pytest.approx(119.7)
    # A map whose tempo does not suit the genre named is said as a warning, with what to do.
    assert "WARNING motionscore: 113 BPM is fast for Waltz (84-90 BPM); set Tempo to choose another" in (
        result["two"]["reports"])
    assert not any("choose another" in r for r in result["none"]["reports"])


def test_projection_matches_world_to_camera_view(tmp_path):
    result, _ = run_case("projection", tmp_path)
    assert result["worst_relative_error"] < 1e-5


def test_free_channel(tmp_path):
    result, _ = run_case("channels", tmp_path)
    assert result == {"overlap_1_60": 3, "after_100": 1, "overlap_30_45": 3}


def test_batch_scores_shots_and_reports_failures(server, tmp_path):
    """`motionscore batch` on a saved shot, a real BVH (when present), a broken file and a missing one."""
    run_case("save_scene", tmp_path, blend=str(tmp_path / "shot.blend"))
    (tmp_path / "broken.blend").write_bytes(b"not a blend file")
    files = [tmp_path / "shot.blend", tmp_path / "broken.blend", tmp_path / "missing.blend"]
    bvh = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "bvh" / "dataset-1_dance-short_normal_001.bvh"
    if bvh.is_file():
        files.append(tmp_path / "dance.bvh")
        (tmp_path / "dance.bvh").write_bytes(bvh.read_bytes())
    before = (tmp_path / "shot.blend").read_bytes()
    broken_before = (tmp_path / "broken.blend").read_bytes()
    proc = subprocess.run([sys.executable, "-m", "motionscore.server.cli", "batch", *map(str, files), "--server", server,
                           "--json"], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "BLENDER_USER_RESOURCES": str(tmp_path / "bu")})
    results = {Path(r["file"]).name: r for r in json.loads(proc.stdout)}
    assert proc.returncode == 1  # some shots failed
    assert results["shot.blend"]["ok"] and Path(results["shot.blend"]["audio"]).is_file()
    assert (tmp_path / "shot.blend").read_bytes() == before  # no --save: the user's file is untouched
    assert not results["broken.blend"]["ok"] and (tmp_path / "broken.blend").read_bytes() == broken_before
    assert results["missing.blend"]["error"] == "no such file"
    if bvh.is_file():
        assert results["dance.bvh"]["ok"] and results["dance.bvh"]["saved"].endswith("dance.blend")
        assert abs(results["dance.bvh"]["fps"] - 30.0) < 1e-3
    assert not list(tmp_path.glob("*.blend1"))


def test_hit_markers_are_caught_and_bar_markers_replace_each_other(addon_zip, server, tmp_path):
    # 120 BPM rig; hits at frames 66 and 151 (2.71 s and 6.25 s: a quarter beat off the grid).
    user = [["hit punch", 66], ["Hit", 151], ["camera cut", 100]]
    result, _ = run_case("hits", tmp_path, zip=addon_zip, server=server, markers=user)
    assert result["runs"] == [["FINISHED"], ["FINISHED"]]
    for beats in result["music_beats"]:
        for _, frame in user[:2]:
            hit = (frame - result["frame_start"]) / result["fps"]
            assert min(abs(b - hit) for b in beats) <= 0.07, (hit, beats)
    names = [name for name, _ in result["markers"]]
    for marker in user:  # the user's markers are untouched
        assert marker in result["markers"]
    bars = [m for m in result["markers"] if m[0].startswith("ms bar ")]
    assert len(bars) >= 4 and len(set(names)) == len(names)  # one set of bars: the second take replaced the first
    assert not [n for n in names if n.startswith("ms beat")]
    assert "2/2 hits caught" in result["summary"] and "BPM" in result["summary"]
    # x1/2 starts from the last take's tempo.
    assert result["tempo_before"] == 0 and result["tempo_after_halving"] == pytest.approx(result["last_tempo"] / 2)
    assert result["tempo_used"] == pytest.approx(121.5)


def test_beat_markers_on_request(addon_zip, server, tmp_path):
    result, _ = run_case("hits", tmp_path, zip=addon_zip, server=server, markers=[], beat_markers=True)
    beats = [m for m in result["markers"] if m[0].startswith("ms beat ")]
    bars = [m for m in result["markers"] if m[0].startswith("ms bar ")]
    assert len(beats) >= 2 * len(bars) > 0


def test_a_dance_named_in_the_panel_sets_the_meter_of_the_markers(addon_zip, server, tmp_path):
    """The same four-square rig, named a Waltz in the panel's Genre: bars of three beats."""
    result, _ = run_case("hits", tmp_path, zip=addon_zip, server=server, markers=[], beat_markers=True, genre="WZ")
    assert result["runs"] == [["FINISHED"], ["FINISHED"]] and "3/4" in result["summary"]
    positions = {int(name.rsplit(".", 1)[1]) for name, _ in result["markers"] if name.startswith("ms beat ")}
    assert positions == {2, 3}
    assert len([name for name, _ in result["markers"] if name.startswith("ms bar ")]) >= 4


@pytest.mark.parametrize("no_editor", [False, True])
def test_a_blender_without_audio_keeps_the_take_and_says_where_it_is(no_editor, addon_zip, server, tmp_path):
    result, stderr = run_case("no_audio", tmp_path, zip=addon_zip, server=server, no_editor=no_editor)
    kind, message = result["run"]
    assert kind == "RuntimeError" and "this Blender build cannot play sound: the take was saved to " in message
    path = message.split("the take was saved to ")[1].strip()
    assert os.path.isfile(path) and path.endswith(".wav") and path in result["wavs"]
    assert "cannot play sound" in result["error"] and "Traceback" not in stderr
    # The scene is as it was: no strip, no sequence editor made, no markers added, the user's kept.
    assert result["has_editor"] == result["editor_before"] == (not no_editor) and result["strips"] == []
    assert result["markers"] == [["hit", 30]]


def test_the_addon_scores_through_a_keyed_server_with_its_key_files(addon_zip, tmp_path):
    import zmq

    if not zmq.has("curve"):
        pytest.skip("pyzmq without CurveZMQ")
    from motionscore.server.cli import main

    keys = tmp_path / "keys"
    assert main(["keys", "init", str(keys)]) == 0 and main(["keys", "add", str(keys), "workstation"]) == 0
    pair = {"server_key": str(keys / "server.key"), "client_key": str(keys / "issued" / "workstation.key_secret")}
    address, proc = start_server(tmp_path / "keyed.log", "--keys", str(keys), "--no-warm-up", keys=pair)
    try:
        result, _ = run_case("keyed", tmp_path, zip=addon_zip, server=address, **pair)
        assert result["run"] == ["FINISHED"] and result["error"] == "" and len(result["strips"]) == 1
        refused, stderr = run_case("keyed", tmp_path, zip=addon_zip, server=address)
        assert refused["run"][0] == "RuntimeError" and "needs a key" in refused["error"]
        assert refused["strips"] == [] and "Traceback" not in stderr
    finally:
        stop_server(proc)


def test_a_stereo_backbone_lands_as_a_stereo_strip(addon_zip, tmp_path):
    """Stable Audio makes stereo: the take's file in the sequencer keeps both channels."""
    pytest.importorskip("diffusers")
    import soundfile as sf

    address, proc = start_server(tmp_path / "server.log", "--backbone", "stableaudio", "--model", "tiny",
                                 startup_s=180.0)
    try:
        result, _ = run_case("score", tmp_path, zip=addon_zip, server=address, runs=1, blend=str(tmp_path / "s.blend"))
    finally:
        stop_server(proc)
    (strip,) = result["strips"]
    assert result["error"] == "" and strip["file"] and strip["duration"] == 120
    assert strip["props"]["motionscore_backbone"] == "stableaudio"
    info = sf.info(strip["path"])
    assert info.channels == 2 and abs(info.duration - 120 / 24) < 0.05
