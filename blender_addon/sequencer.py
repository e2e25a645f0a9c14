"""Put a take into the Video Sequencer: write the audio file, add a sound strip, keep old takes.

A take with stems (the synth's parts) becomes a meta strip, Blender's own group, holding one sound
strip per part on its own channel: the parts sum to the take, and muting or moving the meta mutes
or moves them together. The mix is written beside them all the same.

Blender 4.2-5.0: 5.0 uses ``sequence_editor.strips``; 4.2-4.5 ``sequences`` (kept as a fallback).
"""

from __future__ import annotations

import re
import tempfile
import wave
from pathlib import Path

import bpy
import numpy as np

TAKE_KEY = "motionscore_take"
#: On a take's meta strip: the parts inside it, comma-separated, and the mix's file.
STEMS_KEY = "motionscore_stems"
MIX_KEY = "motionscore_mix"
#: Settings stored on each strip so a take can be reproduced.
SETTING_KEYS = ("prompt", "seed", "genre", "backbone", "model_id", "engine", "alignment", "f1", "sample_rate")


class SequencerError(Exception):
    """The take could not be placed (file or strip): one-line message."""


def _strips(editor):
    return editor.strips if hasattr(editor, "strips") else editor.sequences


def _all_strips(editor):
    return editor.strips_all if hasattr(editor, "strips_all") else editor.sequences_all


def output_folder(scene) -> tuple[Path, str | None]:
    """``//motionscore`` next to the saved .blend, else a temporary folder (with a warning)."""
    if bpy.data.filepath:
        return Path(bpy.path.abspath("//motionscore")), None
    folder = Path(tempfile.gettempdir()) / "motionscore"
    return folder, f"the .blend is not saved: audio written to {folder}"


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "scene"


def unique_path(folder: Path, stem: str, suffix: str = ".wav", parts: tuple = ()) -> Path:
    """First ``stem_take<N>.wav`` that does not exist, nor does ``stem_take<N>_<part>.wav`` for any
    of ``parts`` (never overwrites a file)."""
    for n in range(1, 100_000):
        path = folder / f"{stem}_take{n:03d}{suffix}"
        if not path.exists() and not any(part_path(path, part).exists() for part in parts):
            return path
    raise SequencerError(f"no free file name for {stem} in {folder}")


def part_path(take_path: Path, part: str) -> Path:
    """The file of one part of a take: ``<take>_<part>.wav`` beside it."""
    return take_path.with_name(f"{take_path.stem}_{part}{take_path.suffix}")


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """16-bit PCM WAV with the standard library (no soundfile inside Blender); exclusive create.
    ``audio`` is (n,) mono or (n, channels): rows are frames, written interleaved."""
    audio = np.asarray(audio)
    channels = 1 if audio.ndim == 1 else int(audio.shape[1])
    pcm = np.ascontiguousarray((np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2"))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "xb") as handle:  # "x": fail rather than overwrite
        with wave.open(handle, "wb") as out:
            out.setnchannels(channels)
            out.setsampwidth(2)
            out.setframerate(int(sample_rate))
            out.writeframes(pcm.tobytes())


def free_channel(editor, start: int, end: int) -> int:
    """Lowest channel (1..128) with no strip overlapping [start, end)."""
    busy = set()
    for strip in _strips(editor):
        if strip.frame_final_start < end and strip.frame_final_end > start:
            busy.add(strip.channel)
    for channel in range(1, 129):
        if channel not in busy:
            return channel
    raise SequencerError("every sequencer channel is taken over this frame range")


def _write(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    try:
        write_wav(path, audio, sample_rate)
    except OSError as exc:
        raise SequencerError(f"cannot write {path}: {exc.strerror or exc}") from None


def _new_sound(strips, path: Path, channel: int, frame_start: int, length: int, saved: str):
    """A sound strip of ``path`` in ``strips`` (the editor's or a meta's), cut to ``length`` frames.
    ``saved`` says, in an error, where the user's audio is."""
    filepath = bpy.path.relpath(str(path)) if bpy.data.filepath else str(path)
    try:
        strip = strips.new_sound(name=path.stem, filepath=filepath, channel=channel, frame_start=frame_start)
    except RuntimeError as exc:
        # Blender builds without Audaspace (e.g. the PyPI bpy 4.2 module) cannot hold sound strips.
        # The take is the user's music: keep the file, say where it is.
        if "audaspace" in str(exc).lower():
            raise SequencerError(f"this Blender build cannot play sound: {saved}") from None
        raise SequencerError(f"Blender could not add the sound strip ({str(exc).strip()}); {saved}") from None
    # A missing or unreadable file gives a 1-frame strip instead of an error: check.
    if strip.frame_final_duration <= 1 < length:
        strips.remove(strip)
        raise SequencerError(f"Blender could not read the audio written to {path}")
    strip.frame_final_end = min(frame_start + length, strip.frame_final_end)
    return strip


def place_take(scene, audio: np.ndarray, sample_rate: int, frame_start: int, frame_end: int,
               settings: dict, stems: dict | None = None) -> tuple:
    """Write the audio and add a strip from ``frame_start`` lasting frames ``frame_start..frame_end``.

    ``stems``: {part: float32 (n,)} summing to ``audio``; each is written beside the take and the
    take becomes a meta strip of them, one channel per part. Earlier takes are muted, not deleted.
    Returns (strip, path of the mix, warning or None).
    """
    folder, warning = output_folder(scene)
    blend = Path(bpy.data.filepath).stem if bpy.data.filepath else ""
    stem = safe_name(f"{blend}_{scene.name}" if blend else scene.name)
    path = unique_path(folder, stem, parts=tuple(stems or ()))
    _write(path, audio, sample_rate)
    for part, part_audio in (stems or {}).items():
        _write(part_path(path, part), part_audio, sample_rate)
    saved = f"the take was saved to {path}"
    created = scene.sequence_editor is None
    editor = scene.sequence_editor or scene.sequence_editor_create()
    length = frame_end - frame_start + 1
    channel = free_channel(editor, frame_start, frame_start + length)
    previous = [s for s in _all_strips(editor) if TAKE_KEY in s]
    try:
        if stems:
            strip = _strips(editor).new_meta(name=path.stem, channel=channel, frame_start=frame_start)
            try:
                for number, part in enumerate(stems, start=1):
                    _new_sound(_strips(strip), part_path(path, part), number, frame_start, length, saved)
            except SequencerError:
                _strips(editor).remove(strip)
                raise
            strip.frame_final_end = frame_start + length
            strip[STEMS_KEY] = ",".join(stems)
            strip[MIX_KEY] = bpy.path.relpath(str(path)) if bpy.data.filepath else str(path)
        else:
            strip = _new_sound(_strips(editor), path, channel, frame_start, length, saved)
    except SequencerError:
        if created:  # leave the scene as it was
            scene.sequence_editor_clear()
        raise
    take = 1 + max((int(s[TAKE_KEY]) for s in previous), default=0)
    strip[TAKE_KEY] = take
    for key in SETTING_KEYS:
        value = settings.get(key)
        if value is not None:
            strip[f"motionscore_{key}"] = value
    for old in previous:
        old.mute = True
    scene.sync_mode = "AUDIO_SYNC"
    return strip, path, warning
