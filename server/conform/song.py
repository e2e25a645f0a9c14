"""Reading a song for conforming: any of wav, flac, ogg or mp3, checked before the work starts.

libsndfile (through soundfile) decodes all four on every platform and removes an mp3's encoder
delay (gapless decoding), so a song's times agree with other tools' beat annotations.

Every problem is a :class:`SongError` whose message is one line naming the file, so the CLI, the
server and the add-on can show it as it is.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motionscore.shared.limits import MAX_SONG_BYTES

#: Longest song accepted (seconds of audio), checked from the header before decoding.
MAX_SONG_S = 20 * 60.0
#: Shortest song accepted (seconds): a few beats at the slowest tempo.
MIN_SONG_S = 2.0
#: Peak below which a song counts as silent (about -80 dBFS).
SILENCE_PEAK = 1e-4
SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


class SongError(ValueError):
    """A song that cannot be conformed; the message says why in one line."""


@dataclass(frozen=True)
class Song:
    """Decoded audio.

    Attributes:
        audio: float32 (channels, n) at ``sample_rate`` Hz, channels 1 or 2.
        sample_rate: Hz.
        name: the file's name, for messages and metadata.
    """

    audio: np.ndarray
    sample_rate: int
    name: str

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.audio.shape[1] / self.sample_rate

    def mix(self) -> np.ndarray:
        """(n,) mono mix."""
        return self.audio.mean(axis=0)


def read_song(source: str | Path | bytes, sample_rate: int, name: str | None = None) -> Song:
    """Decode ``source`` (a path, or a file's bytes) resampled to ``sample_rate`` Hz.

    More than two channels are folded to stereo (first two kept). Raises SongError for a missing,
    oversized, undecodable, too short, too long or silent file.
    """
    import soundfile as sf

    if isinstance(source, (bytes, bytearray)):
        label = name or "song"
        size = len(source)
        opener = lambda: sf.SoundFile(io.BytesIO(bytes(source)))  # noqa: E731 - one-line factory
    else:
        path = Path(source)
        label = name or path.name
        if not path.is_file():
            raise SongError(f"{path}: no such file")
        size = path.stat().st_size
        opener = lambda: sf.SoundFile(str(path))  # noqa: E731
    if size == 0:
        raise SongError(f"{label}: the file is empty")
    if size > MAX_SONG_BYTES:
        raise SongError(f"{label}: {size / 2**20:.0f} MB is over the {MAX_SONG_BYTES // 2**20} MB limit for a song; "
                        f"cut the part you need first")
    try:
        with opener() as handle:
            rate = handle.samplerate
            seconds = handle.frames / rate if rate else 0.0
            if seconds > MAX_SONG_S:
                raise SongError(f"{label}: {seconds / 60:.0f} minutes of audio is over the "
                                f"{MAX_SONG_S / 60:.0f}-minute limit; cut the part you need first")
            audio = handle.read(dtype="float32", always_2d=True).T
    except SongError:
        raise
    except Exception as exc:  # soundfile raises LibsndfileError/RuntimeError/TypeError by decoder
        reason = (str(exc).splitlines() or [type(exc).__name__])[0].rsplit(": ", 1)[-1].rstrip(".")
        raise SongError(f"{label}: not an audio file that can be read (wav, flac, ogg or mp3): {reason}") from None
    if audio.shape[1] and rate != sample_rate:
        import librosa

        audio = librosa.resample(audio, orig_sr=rate, target_sr=sample_rate, res_type="soxr_hq", axis=-1)
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None]
    audio = audio[:2]
    if audio.shape[1] < MIN_SONG_S * sample_rate:
        raise SongError(f"{label}: {audio.shape[1] / sample_rate:.2f} s of audio is too short to find a beat in "
                        f"(at least {MIN_SONG_S:g} s)")
    if not np.isfinite(audio).all() or float(np.abs(audio).max()) < SILENCE_PEAK:
        raise SongError(f"{label}: the audio is silent")
    return Song(audio=audio, sample_rate=int(sample_rate), name=label)
