"""The tempo map's tuned parameters, in one place (:class:`TempoMapConfig`).

Each was chosen on the real dances of ../shared/data/real and the ballroom captures; the figures
behind the choices are in docs/tempo-map.md, each with the command that reproduces it. The comments
here say what each one trades off.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Meters a map can have, and the one without evidence of 3/4.
METERS = (3, 4)
DEFAULT_METER = 4
#: The most alternative tempi a map offers (the add-on shows this many buttons).
ALTERNATIVES = 2


@dataclass(frozen=True)
class TempoMapConfig:
    """Parameters of the tempo map estimate; :data:`DEFAULT_CONFIG` is the product's."""

    #: Tempo grid of the salience: ratio between neighbouring tempi (0.25 % steps).
    bpm_step: float = 1.0025
    #: Prior over the musical octave without a genre: centre (BPM) and width (octaves, 1 sigma).
    prior_bpm: float = 110.0
    prior_octaves: float = 0.5
    #: Outside a genre's tempo range the prior falls off with this width (octaves, 1 sigma), so
    #: clear evidence outside the range still wins.
    genre_tail_octaves: float = 0.25
    #: Least weight of a cue whose tempo evidence disagrees with all the others.
    min_agreement: float = 0.1
    #: Fine grid fit: periods within +-fit_span (relative) of the coarse tempo in fit_step steps;
    #: a tempo segment is refitted within half of fit_span.
    fit_span: float = 0.06
    fit_step: float = 0.001
    #: After the spectral estimate, the grid's tempo is refitted within +-fine_span on the accents
    #: (0: not refitted).
    fine_span: float = 0.02
    #: Phases of the grid fit, in envelope samples (a quarter frame at 60 Hz).
    phase_step: float = 0.25
    #: Onset-strength smoothing before the grid fit (Gaussian sigma, seconds): wide enough that a
    #: grid a frame off still scores, narrow enough to keep neighbouring beats apart.
    fit_smoothing_s: float = 0.035
    #: Local tempo: window and hop (seconds); local tempi are searched within local_ratio of the
    #: global tempo (half an octave: a related tempo, never another octave).
    local_window_s: float = 8.0
    local_hop_s: float = 2.0
    local_ratio: float = 1.41
    #: Segmentation: cost of a tempo change, in squared log-tempo units; per-window deviations are
    #: capped at ``outlier`` (log units) so one odd window cannot force a change.
    change_penalty: float = 0.015
    outlier: float = 0.25
    #: A tempo change is kept only if the pieces' own grids beat one steady grid by this factor:
    #: dances to one steady song have stretches at a related pulse (steps at 3/2 of the beat).
    change_gain: float = 1.25
    #: Minimum length of a tempo segment, in local windows' hops.
    min_segment_hops: int = 3
    #: Alternative tempi: at most ``alternatives`` peaks of the evidence at least
    #: ``alternative_least`` of the best, each at least ``alternative_separation`` (relative) from
    #: the map's tempo, its double and half and from each other: a few real candidates, not noise.
    alternatives: int = ALTERNATIVES
    alternative_least: float = 0.5
    alternative_separation: float = 0.04
    #: 3/4 from the motion: the bounce's autocorrelation three beats apart must exceed the larger of
    #: those two and four beats apart by ``three_four_margin``, over at least ``meter_min_beats``
    #: beats (each lag searched within ``meter_lag_tolerance``). Short excerpts stay 4/4 rather than
    #: risk a false 3/4.
    three_four_margin: float = 0.4
    #: With no meter given the map is also estimated as if in 3/4 and kept where the bounce repeats
    #: every three of its beats by this margin: more than ``three_four_margin``, because that map's
    #: tempo was chosen partly by the bounce's own period.
    three_four_hypothesis_margin: float = 0.5
    meter_min_beats: int = 24
    meter_lag_tolerance: float = 0.04
    #: Soft hits: a beat's accent is the envelope's maximum within ``accent_reach`` of a period of
    #: it; one at least ``accent_prominence`` times the median beat's is a hit (the strongest in
    #: each ``accent_spacing_beats`` beats), and its beat moves ``accent_pull`` of the way onto it:
    #: the tempo bends a little, the grid never re-phases.
    accent_prominence: float = 2.0
    accent_spacing_beats: int = 8
    accent_reach: float = 0.25
    accent_pull: float = 0.5


DEFAULT_CONFIG = TempoMapConfig()
