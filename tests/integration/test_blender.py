"""The add-on in real (headless) Blender: the PyPI bpy module, the built extension zip installed as
a user would, and a real server process on 127.0.0.1."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.kit.paths import REAL_DATA, REPO
from tests.kit.servers import free_port, start_server, stop_server

pytest.importorskip("bpy")
pytestmark = pytest.mark.blender
CASES = Path(__file__).with_name("blender_cases.py")


@pytest.fixture(scope="module")
def addon_zip(tmp_path_factory):
    from motionscore.server.packaging.addon_build import build

    return str(build(tmp_path_factory.mktemp("addon"), platforms=["linux-x64"], log=lambda _: None).zip_path)


@pytest.fixture
def server(shared_server):
    """The session's synth server (these tests only ask it for takes)."""
    return shared_server


def run_case(case, tmp_path, python=sys.executable, **args):
    env = {**os.environ, "BLENDER_USER_RESOURCES": str(tmp_path / "blender-user")}
    for variable in ("MOTIONSCORE_SERVER", "MOTIONSCORE_ENGINE"):
        env.pop(variable, None)
    proc = subprocess.run([python, str(CASES), case, json.dumps(args)], capture_output=True, text=True,
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


def test_fit_a_song_becomes_a_take_through_the_server(addon_zip, server, tmp_path):
    result, _ = run_case("fit_song", tmp_path, zip=addon_zip, server=server, loop=True, song_s=5.0)
    assert result["status"] == ["FINISHED"] and not result["error"]
    strip, = result["strips"]
    assert strip["file"] and strip["duration"] == 24 * 8 and strip["props"]["motionscore_backbone"] == "conform"
    assert result["markers"] > 0 and "BPM" in result["map"]
    short, _ = run_case("fit_song", tmp_path, zip=addon_zip, server=server, loop=False, song_s=5.0)
    assert short["status"][0] == "RuntimeError" and "too short" in short["error"] and not short["strips"]
    builtin, _ = run_case("fit_song", tmp_path, zip=addon_zip, server=server, engine="BUILTIN")
    assert "runs on the motionscore server" in builtin["error"] and not builtin["strips"]


def test_tempo_map_midi_out_and_in_with_the_built_in_engine(addon_zip, tmp_path):
    result, _ = run_case("midi", tmp_path, zip=addon_zip)
    assert result["exported"] and "hit punch" in result["markers"]
    assert "exists" in result["again"]                                   # never overwritten
    assert result["loaded_map"].startswith("90 BPM, 3/4") and result["strips"] == 2
    assert result["cleared"] == ""


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
    assert result["two"]["last_take_backbone"] == "musicgen"
    # A reply that is not a take's record (another version of the server) is one line, nothing placed.
    assert result["foreign"].startswith("the take's record has no ") and "update the add-on" in result["foreign"]


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
    bvh = REAL_DATA / "bvh" / "dataset-1_dance-short_normal_001.bvh"
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
    # What the job reports comes from the take's record: the backbone, its map, its alignment.
    assert results["shot.blend"]["backbone"] == "synth" and "BPM" in results["shot.blend"]["map"]
    assert 0 <= results["shot.blend"]["alignment"] <= 1
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


# -- The built-in engine: music from Blender alone ------------------------------------------------

#: The rig of blender_cases.build_rig_scene stops dead every half second (120 BPM) from its first frame.
RIG_PERIOD_S = 0.5


def rig_beat_f1(path: str, duration: float) -> float:
    """F-measure at 70 ms (mir_eval) of librosa's beats of the take at ``path`` against the rig's
    accents: a tracker and a metric that share nothing with the add-on, which measures nothing."""
    import mir_eval
    import soundfile as sf

    from motionscore.server.analysis.metrics import track_music_beats

    audio, rate = sf.read(path, dtype="float32")
    _, beats = track_music_beats(audio, rate)
    return float(mir_eval.beat.f_measure(np.arange(0.0, duration, RIG_PERIOD_S), beats, 0.07))


def wav_samples(path: str) -> np.ndarray:
    import soundfile as sf

    return sf.read(path, dtype="int16")[0]


def test_builtin_takes_from_blender_alone(addon_zip, tmp_path):
    """A 60 s keyframed rig, nothing listening, Blender's missing libraries and the extension's own
    wheels (pyzmq, msgpack) unimportable: Automatic makes two built-in takes exact to the range, the
    first muted, with bar markers, whose beats land on the rig's accents."""
    frames = 24 * 60
    result, stderr = run_case("builtin", tmp_path, zip=addon_zip, server=f"tcp://127.0.0.1:{free_port()}",
                              frames=[1, frames], variations=2, blend=str(tmp_path / "shot.blend"),
                              also_block=["zmq", "msgpack"])
    assert result["run"] == ["FINISHED"] and result["error"] == "", stderr[-2000:]
    assert result["loaded_blocked"] == [] and "zmq" in result["refused"]  # it tried the server, then went on
    assert "no server answered" in stderr and "made with the built-in engine" in stderr
    first, second = result["strips"]
    for strip in (first, second):
        assert strip["start"] == 1 and strip["duration"] == frames and strip["file"]
        assert strip["props"]["motionscore_engine"] == "built-in" and strip["props"]["motionscore_backbone"] == "synth"
        assert wav_samples(strip["path"]).shape == (48_000 * 60,)
        assert rig_beat_f1(strip["path"], 60.0) >= 0.9
    assert first["mute"] and not second["mute"]
    assert [s["props"]["motionscore_seed"] for s in (first, second)] == [0, 1]
    assert len([m for m in result["markers"] if m[0].startswith("ms bar ")]) >= 25
    assert "120 BPM" in result["summary"]


def test_builtin_and_server_takes_are_bit_identical_and_so_are_their_stems(addon_zip, server, tmp_path):
    """The same scene, options and seed through the server's synth and through the built-in engine,
    with Stems on: each take is a meta strip of its parts, which sum to the take; both engines agree
    sample for sample, and a second take mutes the first group as a whole."""
    files, parts = [], []
    for engine in ("SERVER", "BUILTIN"):
        folder = tmp_path / engine
        folder.mkdir()
        result, stderr = run_case("builtin", folder, zip=addon_zip, server=server, engine=engine, seed=7,
                                  frames=[1, 240], genre="LO", tempo=118.0, markers=[["hit", 100]], stems=True,
                                  variations=2)
        assert result["run"] == ["FINISHED"], stderr[-2000:]
        first, strip = result["strips"]
        assert first["mute"] and not strip["mute"]
        assert strip["type"] == "META" and strip["start"] == 1 and strip["duration"] == 240
        assert strip["props"]["motionscore_engine"] == ("built-in" if engine == "BUILTIN" else "server")
        assert strip["props"]["motionscore_stems"] == "drums,bass,chords"
        assert [(p["channel"], p["start"], p["duration"], p["mute"]) for p in strip["parts"]] == [
            (1, 1, 240, False), (2, 1, 240, False), (3, 1, 240, False)]
        files.append(strip["path"])
        parts.append([wav_samples(p["path"]) for p in strip["parts"]])
        if engine == "SERVER":
            assert 0 <= strip["props"]["motionscore_alignment"] <= 1
        else:
            assert strip["props"]["motionscore_alignment"] == -1.0  # not measured: shown as n/a
    server_take, builtin_take = map(wav_samples, files)
    assert server_take.shape == builtin_take.shape == (48_000 * 10,) and np.array_equal(server_take, builtin_take)
    for server_parts, builtin_parts in zip(*parts):
        assert np.array_equal(server_parts, builtin_parts) and server_parts.shape == server_take.shape
    # Each part is rounded to 16 bits on its own: the sum is within one step per part.
    total = np.sum([p.astype(np.int32) for p in parts[0]], axis=0)
    assert np.max(np.abs(total - server_take)) <= 3 and np.std(server_take) > 100


def test_builtin_genre_hits_tempo_meter_and_beat_markers(addon_zip, tmp_path):
    """Everything the panel sets works built-in: hits caught, the user's tempo, a waltz's 3/4, beat markers."""
    user = [["hit punch", 66], ["Hit", 151], ["camera cut", 100]]
    result, stderr = run_case("builtin", tmp_path, zip=addon_zip, server=f"tcp://127.0.0.1:{free_port()}",
                              engine="BUILTIN", frames=[1, 240], markers=user, genre="WZ", beat_markers=True)
    assert result["run"] == ["FINISHED"], stderr[-2000:]
    assert "2/2 hits caught" in result["summary"] and "3/4" in result["summary"]
    positions = {int(name.rsplit(".", 1)[1]) for name, _ in result["markers"] if name.startswith("ms beat ")}
    assert positions == {2, 3}
    for marker in user:
        assert marker in result["markers"]
    import soundfile as sf

    from motionscore.server.analysis.metrics import track_music_beats

    (strip,) = result["strips"]
    audio, rate = sf.read(strip["path"], dtype="float32")
    beats = track_music_beats(audio, rate)[1]
    for _, frame in user[:2]:
        assert np.min(np.abs(beats - (frame - 1) / 24)) <= 0.07
    tempo, _ = run_case("builtin", tmp_path / "..", zip=addon_zip, server=f"tcp://127.0.0.1:{free_port()}",
                        engine="BUILTIN", frames=[1, 240], tempo=97.0, meter="4")
    assert tempo["summary"].startswith("97 BPM, 4/4")


def test_an_ml_backbone_with_no_server_is_a_clear_message(addon_zip, tmp_path):
    result, stderr = run_case("builtin", tmp_path, zip=addon_zip, server=f"tcp://127.0.0.1:{free_port()}",
                              backbone="musicgen")
    kind, message = result["run"]
    assert kind == "RuntimeError" and "backbone musicgen needs a motionscore server" in message
    assert result["strips"] == [] and not (tmp_path / "motionscore").exists() and "Traceback" not in stderr


def test_builtin_ui_path_shows_progress_and_cancels(addon_zip, tmp_path):
    dead = f"tcp://127.0.0.1:{free_port()}"
    done, _ = run_case("async", tmp_path, zip=addon_zip, server=dead, engine="BUILTIN", frames=[1, 24 * 180])
    assert done["running_at_return"] and not done["running"] and done["error"] == ""
    assert len(done["strips"]) == 1 and done["strips"][0]["duration"] == 24 * 180
    assert any(0.0 < p < 1.0 for p in done["progress_seen"])
    cancelled, _ = run_case("async", tmp_path, zip=addon_zip, server=dead, engine="BUILTIN",
                            frames=[1, 24 * 300], cancel_after=3)
    assert cancelled["strips"] == [] and cancelled["error"] == "cancelled" and not cancelled["running"]


def _bpy_313_python() -> str | None:
    """The Python with the bpy 5.2.3 module (Blender 5.2's Python 3.13) that scripts/test.sh sets up."""
    for candidate in (os.environ.get("MOTIONSCORE_BPY313_PYTHON"), str(REPO / ".venv-bpy313" / "bin" / "python")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def test_builtin_takes_in_blender_5_2_on_python_3_13(addon_zip, tmp_path):
    """The same built-in takes in Blender 5.2 (bpy 5.2.3, Python 3.13, numpy 2), imports blocked."""
    python = _bpy_313_python()
    if python is None:
        pytest.skip("no .venv-bpy313 (scripts/test.sh makes it where a Python 3.13 is found)")
    version = subprocess.run([python, "-c", "import bpy, numpy; print(bpy.app.version_string, numpy.__version__)"],
                             capture_output=True, text=True, timeout=120, env={**os.environ,
                             "BLENDER_USER_RESOURCES": str(tmp_path / "bu")}).stdout.split()
    assert version[0].startswith("5.2"), version
    result, stderr = run_case("builtin", tmp_path, python=python, zip=addon_zip,
                              server=f"tcp://127.0.0.1:{free_port()}", frames=[1, 24 * 30], variations=2,
                              markers=[["hit", 217]], also_block=["zmq", "msgpack"])
    assert result["run"] == ["FINISHED"] and result["loaded_blocked"] == [], stderr[-2000:]
    first, second = result["strips"]
    assert first["mute"] and not second["mute"] and "1/1 hits caught" in result["summary"]
    for strip in (first, second):
        assert strip["duration"] == 24 * 30 and strip["props"]["motionscore_engine"] == "built-in"
        assert rig_beat_f1(strip["path"], 30.0) >= 0.9


def test_preferences_download_model_weights_with_progress(addon_zip, tmp_path, monkeypatch):
    """The preferences' Download runs the server environment's `models pull` against a hub on
    127.0.0.1; progress reaches the preferences; a failure is its one line."""
    from tests.kit.local_hub import LocalHub

    root = tmp_path / "hub"
    for name, size in (("state_dict.bin", 3 << 20), ("compression_state_dict.bin", 1 << 20)):
        (root / "facebook/musicgen-small").mkdir(parents=True, exist_ok=True)
        (root / "facebook/musicgen-small" / name).write_bytes(os.urandom(size))
    (root / "t5-base").mkdir()
    (root / "t5-base/config.json").write_bytes(b"{}")
    (root / "t5-base/model.safetensors").write_bytes(os.urandom(1 << 20))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    with LocalHub(root) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        done, stderr = run_case("pull", tmp_path, zip=addon_zip, server_python=sys.executable, backbone="musicgen",
                                mode="ASYNC")
        assert done["status"] == ["FINISHED"] and done["error"] == "", stderr[-2000:]
        assert done["progress"] == 1.0 and done["stage"] == "musicgen: ready (checked)" and not done["running"]
        assert any(0.0 < p <= 1.0 for p in done["progress_seen"])
        assert (tmp_path / "cache" / "models--t5-base" / "motionscore-pull.json").is_file()
        failed, stderr = run_case("pull", tmp_path, zip=addon_zip, server_python=sys.executable, backbone="audioldm")
    assert failed["status"][0] == "RuntimeError" and "cvssp/audioldm-s-full-v2: no such model at" in failed["error"]
    assert "Traceback" not in stderr
    unset, _ = run_case("pull", tmp_path, zip=addon_zip, backbone="riffusion")
    assert "set Server Python" in unset["error"]
