"""Writing audio files without ever overwriting a user's file by accident."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np


def mono_mix(audio: np.ndarray) -> np.ndarray:
    """(n,) audio as is; (n, channels) audio averaged to (n,) (beat tracking and metrics hear the mix)."""
    return audio if audio.ndim == 1 else audio.mean(axis=1)


SUPPORTED_SUFFIXES = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS")}


class OutputExistsError(FileExistsError):
    """The output path exists and overwriting was not asked for."""


def check_output_path(path: str | Path, force: bool = False) -> Path:
    """Validate an output path before any work is done (so a long job never fails at the end)."""
    path = Path(path)
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise ValueError(f"{path}: unsupported audio format {path.suffix or '(none)'!r}; "
                         f"use one of {', '.join(SUPPORTED_SUFFIXES)}")
    if path.exists() and not force:
        raise OutputExistsError(f"{path} exists; choose another name or pass --force to overwrite it")
    if path.is_dir():
        raise ValueError(f"{path} is a directory")
    if not path.parent.exists():
        raise ValueError(f"{path.parent}: no such directory")
    return path


def current_umask() -> int:
    """The process's umask (reading it means setting it; it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_audio(path: str | Path, audio: np.ndarray, sample_rate: int, force: bool = False) -> Path:
    """Write float audio, (n,) mono or (n, channels), atomically (temp file + rename). Refuses to
    overwrite unless ``force``."""
    import soundfile as sf

    path = check_output_path(path, force)
    fmt, subtype = SUPPORTED_SUFFIXES[path.suffix.lower()]
    fd, tmp = tempfile.mkstemp(prefix=".motionscore-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        sf.write(tmp, np.clip(audio, -1.0, 1.0), sample_rate, format=fmt, subtype=subtype)
        # mkstemp makes the file 0600; the take is the user's music and gets the user's umask, so
        # that the group on a farm (or Blender running as a render user) can read it.
        os.chmod(tmp, 0o666 & ~current_umask())
        if force:
            os.replace(tmp, path)
        else:
            # link() fails if the target appeared meanwhile: never clobber a file created since the check.
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise OutputExistsError(f"{path} appeared while scoring; nothing was overwritten") from None
            except OSError:
                if path.exists():
                    raise OutputExistsError(f"{path} exists; nothing was overwritten") from None
                os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
