"""Pictures of beats: a per-take timeline and a summary of an evaluation (matplotlib, PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from motionscore.server.analysis.metrics import DEFAULT_TOLERANCE, match_events


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no window
    import matplotlib.pyplot as plt

    return plt


def _tempo_curve(beats: np.ndarray):
    beats = np.asarray(beats, float)
    if beats.size < 2:
        return np.zeros(0), np.zeros(0)
    return (beats[1:] + beats[:-1]) / 2, 60.0 / np.diff(beats)


def beat_timeline(path: str | Path, audio: np.ndarray, sample_rate: int, music_beats: np.ndarray,
                  kinematic_beats: np.ndarray, title: str = "", metrics: dict | None = None,
                  tolerance: float = DEFAULT_TOLERANCE, bars=(), hits=(), accents=(),
                  reference_label: str = "kinematic beats (motion)") -> Path:
    """Waveform with music beats, the motion's beats (``reference_label``) and their matches, the
    tempo map's bar lines, the user's hits and the motion's accents that acted as soft hits; tempo
    curves below. Times in seconds."""
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 5.5), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    t = np.arange(audio.size) / sample_rate
    step = max(1, audio.size // 20000)
    top.plot(t[::step], audio[::step], color="0.7", lw=0.5, label="music waveform")
    for i, b in enumerate(music_beats):
        top.axvline(b, color="tab:blue", lw=1.0, alpha=0.8, label="music beats" if i == 0 else None)
    top.plot(kinematic_beats, np.full(len(kinematic_beats), 0.9), "v", color="tab:red", ms=7,
             label=reference_label)
    for i, b in enumerate(bars):
        top.axvline(b, ymin=0.0, ymax=0.12, color="black", lw=2.0, label="bars" if i == 0 else None)
    for i, h in enumerate(hits):
        top.plot([h], [0.98], "*", color="tab:orange", ms=12, label="hits" if i == 0 else None)
    for i, a in enumerate(accents):
        top.plot([a], [0.98], "d", color="tab:purple", ms=6, label="accents (soft hits)" if i == 0 else None)
    for i, (k, m) in enumerate(match_events(kinematic_beats, music_beats, tolerance)):
        top.plot([k, m], [0.9, 0.75], color="tab:green", lw=2, label=f"matched within {tolerance:g} s" if i == 0 else None)
    top.set_ylim(-1.05, 1.05)
    top.set_ylabel("amplitude")
    heading = title
    if metrics:
        parts = [f"{k} {v:.2f}" for k, v in metrics.items() if isinstance(v, (int, float)) and v is not None]
        heading = f"{title}   " + ", ".join(parts) if title else ", ".join(parts)
    top.set_title(heading, fontsize=10)
    top.legend(loc="lower right", fontsize=8, ncol=2)
    for beats, colour, label in ((music_beats, "tab:blue", "music tempo"), (kinematic_beats, "tab:red", "motion tempo (map)" if bars else "motion tempo")):
        x, bpm = _tempo_curve(beats)
        bottom.plot(x, bpm, ".-", color=colour, label=label)
    bottom.set_ylabel("tempo (BPM)")
    bottom.set_xlabel("time (s)")
    bottom.legend(loc="upper right", fontsize=8)
    bottom.set_xlim(0, max(audio.size / sample_rate, 1e-3))
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def summary_figure(path: str | Path, rows: list[dict]) -> Path:
    """Per-clip F1, BCS, BHS and alignment as grouped bars, with the means in the title."""
    plt = _pyplot()
    names = [r["name"] for r in rows]
    keys = [k for k in ("f1", "bcs", "bhs", "alignment") if any(r.get(k) is not None for r in rows)]
    x = np.arange(len(rows))
    width = 0.8 / max(len(keys), 1)
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(rows) + 3), 4.5))
    for i, key in enumerate(keys):
        values = [r.get(key) if r.get(key) is not None else np.nan for r in rows]
        ax.bar(x + i * width - 0.4 + width / 2, values, width, label=key.upper() if key != "alignment" else "alignment")
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score (0-1)")
    means = ", ".join(f"{k} {np.nanmean([r.get(k) if r.get(k) is not None else np.nan for r in rows]):.3f}"
                      for k in keys)
    ax.set_title(f"{len(rows)} clips — mean {means}", fontsize=10)
    ax.legend(fontsize=8, loc="lower left", framealpha=0.9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
