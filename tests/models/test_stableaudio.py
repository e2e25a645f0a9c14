"""The `stableaudio` backbone end to end on the tiny pipeline (offline, the real code path), and
stereo from backbone to file, wire and Blender's WAV."""

import wave

import numpy as np
import pytest
import soundfile as sf

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from motionscore.server.generation.backbones import GenerationRequest, load_backbone  # noqa: E402
from motionscore.server.generation.pipeline import ChannelsError, score_motion  # noqa: E402
from motionscore.shared.synthetic_dance import beat_times, synthetic_dance  # noqa: E402
from motionscore.shared.motion import save_motion  # noqa: E402
from motionscore.shared.options import ScoreOptions  # noqa: E402
from motionscore.shared.rhythm import extract_rhythm  # noqa: E402

from tests.kit.scripts import run_benchmark  # noqa: E402


@pytest.fixture(scope="module")
def stableaudio():
    return load_backbone("stableaudio", model="tiny", device="cpu")


def dance(seconds=3.0, bpm=120, seed=0):
    return synthetic_dance(beat_times(seconds, bpm), seconds, fps=30, seed=seed)


def test_takes_are_exact_stereo_seeded_and_follow_the_motion(stableaudio):
    motion = dance(3.0, 110)
    options = ScoreOptions(seed=4, sample_rate=22050)
    a = score_motion(motion, options, stableaudio)
    assert a.audio.shape == (round(motion.duration * 22050), 2) and a.audio.dtype == np.float32
    assert a.metadata["channels"] == 2 and not np.array_equal(a.audio[:, 0], a.audio[:, 1])
    assert np.array_equal(a.audio, score_motion(motion, options, stableaudio).audio)
    other = score_motion(dance(3.0, 150, seed=1), options, stableaudio)
    assert not np.array_equal(a.audio[: other.audio.shape[0]], other.audio[: a.audio.shape[0]])
    assert "150 bpm" in other.metadata["backbone_info"]["prompt_text"]  # text-only: the tempo in words
    mono = score_motion(motion, ScoreOptions(seed=4, sample_rate=22050, channels="mono"), stableaudio)
    assert mono.audio.shape == (round(motion.duration * 22050),) and mono.metadata["channels"] == 1


def test_the_latent_follows_the_requested_length(stableaudio):
    """The pipeline would denoise all 1024 latent frames (~47.55 s) for any take; here 3 s costs 80."""
    full = stableaudio.pipe.transformer.config.sample_size
    out = stableaudio.generate(GenerationRequest(rhythm=extract_rhythm(dance(3.0)), duration=3.0, sample_rate=16000))
    assert out.info["latent_frames"] == 80 < out.info["full_latent_frames"] == full == 1024
    assert stableaudio.pipe.transformer.config.sample_size == full  # restored after the call
    assert stableaudio.latent_frames(47.5) == 1024 and stableaudio.latent_frames(0.1) == 16


def test_a_shot_longer_than_one_call_is_made_in_windows(stableaudio):
    motion = dance(52.0, 100)
    result = score_motion(motion, ScoreOptions(sample_rate=8000), stableaudio)
    assert result.audio.shape == (round(motion.duration * 8000), 2)
    assert result.metadata["backbone_info"]["windows"] == 2
    assert any("windows of 47 s joined on beats" in note for note in result.metadata["notes"])


def test_stereo_is_refused_for_a_mono_backbone():
    synth = load_backbone("synth")
    with pytest.raises(ChannelsError, match="makes mono audio"):
        score_motion(dance(1.0), ScoreOptions(channels="stereo"), synth)
    assert score_motion(dance(1.0), ScoreOptions(channels="mono", sample_rate=8000), synth).audio.ndim == 1


def test_beat_lock_warps_both_channels_alike():
    from motionscore.server.generation.beatlock import beat_lock

    rate = 22050
    t = np.arange(int(8 * rate)) / rate
    clicks = (np.sin(2 * np.pi * 880 * t) * np.exp(-40 * ((t * 2.1) % 1.0))).astype(np.float32)  # 126 BPM
    stereo = np.stack([clicks, 0.5 * clicks], axis=1)
    beats = np.arange(0.25, 8.0, 0.5)  # the motion's 120 BPM
    locked = beat_lock(stereo, rate, beats, keep_if_worse=False)
    mono = beat_lock(clicks, rate, beats, keep_if_worse=False)
    assert locked.audio.shape == stereo.shape and locked.anchors > 0
    left, right = locked.audio[:, 0], locked.audio[:, 1]
    # One time map for both channels: each follows the mono take (Rubber Band stretches the channels
    # together, so they match it closely rather than to the bit), and the balance stays.
    assert np.corrcoef(left, mono.audio)[0, 1] > 0.99 and np.corrcoef(right, mono.audio)[0, 1] > 0.99
    assert np.sqrt(np.mean(right ** 2) / np.mean(left ** 2)) == pytest.approx(0.5, abs=0.05)


def test_cli_writes_a_stereo_file_and_mono_on_request(tmp_path, capsys):
    from motionscore.server.cli import main

    motion = tmp_path / "m.npz"
    save_motion(dance(2.0, 120), motion)
    common = ["score", str(motion), "-q", "--backbone", "stableaudio", "--model", "tiny", "--sample-rate", "44100"]

    assert main([*common, "-o", str(tmp_path / "s.wav")]) == 0
    info = sf.info(str(tmp_path / "s.wav"))
    assert info.channels == 2 and info.frames == 2 * 44100 and "44100 Hz stereo" in capsys.readouterr().out
    assert main([*common, "-o", str(tmp_path / "m.flac"), "--channels", "mono"]) == 0
    assert sf.info(str(tmp_path / "m.flac")).channels == 1
    capsys.readouterr()
    assert main(["score", str(motion), "-o", str(tmp_path / "x.wav"), "--channels", "stereo"]) == 2
    err = capsys.readouterr().err
    assert "makes mono audio" in err and "Traceback" not in err
    assert not (tmp_path / "x.wav").exists()


def test_the_addon_writes_stereo_wav_frames_interleaved(tmp_path):
    from motionscore.blender_addon.sequencer import write_wav

    audio = np.stack([np.linspace(-0.5, 0.5, 1000), np.full(1000, 0.25)], axis=1).astype(np.float32)
    write_wav(tmp_path / "take.wav", audio, 44100)
    with wave.open(str(tmp_path / "take.wav")) as w:
        assert (w.getnchannels(), w.getnframes(), w.getframerate()) == (2, 1000, 44100)
        frames = np.frombuffer(w.readframes(1000), "<i2").reshape(1000, 2)
    np.testing.assert_allclose(frames / 32767.0, audio, atol=1e-4)
    with pytest.raises(FileExistsError):  # never overwrites
        write_wav(tmp_path / "take.wav", audio, 44100)


def test_the_decode_benchmark_times_the_full_and_the_cut_latent(capsys):
    """benchmarks/bench_decode.py --backbone stableaudio runs end to end on the tiny pipeline."""
    import re

    assert run_benchmark("bench_decode", ["--backbone", "stableaudio", "--model", "tiny", "--repeats", "1"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(r"stableaudio speedup \d+\.\dx \(stock \d+\.\d+ s, fast \d+\.\d+ s per 5\.12 s clip, "
                        r"latent 112 of 1024 frames\)", last), last


def test_a_saved_pipeline_folder_loads_through_the_real_loading_code(stableaudio, tmp_path):
    """`--model FOLDER` goes through StableAudioPipeline.from_pretrained offline, as real weights do."""
    stableaudio.pipe.save_pretrained(tmp_path / "pipe")
    loaded = load_backbone("stableaudio", model=str(tmp_path / "pipe"), device="cpu", steps=stableaudio.steps)
    request = GenerationRequest(rhythm=extract_rhythm(dance(2.0)), duration=2.0, sample_rate=16000, seed=1, channels=2)
    assert loaded.model_id == str(tmp_path / "pipe")
    np.testing.assert_allclose(loaded.generate(request).audio, stableaudio.generate(request).audio, atol=1e-5)
    with pytest.raises(RuntimeError, match="cannot load .* offline"):
        load_backbone("stableaudio", model=str(tmp_path / "missing"), device="cpu")
