"""A musical tempo map from the motion: steady beats, bars and tempo segments, catching the hits.

A film composer scoring a cut does not follow every frame: they choose a tempo (or a tempo map that
changes only at clear points) that catches the important hits and keep the beat steady between
them. This package does that with the motion's cue envelopes (pure numpy, runs in Blender), one
module per step, the tuned parameters in one :class:`TempoMapConfig` (:mod:`.config`):

1. **Tempo** (:mod:`.salience`): the cues' pulse evidence at each tempo, a metrical family voting
   together, weighted by a prior over the usual dance range; the musical octave follows the prior.
   The next strongest peaks outside the chosen family are the map's ``alternatives``.
2. **Fine tempo and phase** (:mod:`.grid`): a steady grid fitted to the onset envelope over the
   whole span, period in 0.1 % steps and phase in sub-frame steps.
3. **Segments** (:mod:`.segments`): local tempi partitioned into pieces of constant tempo with a
   penalty per change; each piece is refitted, and a new piece starts a new bar.
4. **Meter and downbeats** (:mod:`.meter`): the user's meter, else 3/4 where the hips' height
   clearly repeats every three beats (a waltz's rise and fall), else 4/4; the downbeat where the
   accents are strongest, in 3/4 where the hips are lowest.
5. **Hits** (:mod:`.hits`): user sync points are caught exactly (the nearest beat moves onto each,
   the beats between two hits evenly respaced); the motion's most prominent accents act as soft
   hits (the nearest beat moves halfway onto each).

:func:`estimate_tempo_map` (:mod:`.estimate`) runs the steps; :class:`TempoMap` (:mod:`.model`) is
what it returns. Times are seconds from the motion's first frame; envelopes are sampled at
``rate`` Hz with sample ``i`` at ``(i + 1) / rate`` seconds (see :mod:`..rhythm`).
"""

from .config import ALTERNATIVES, DEFAULT_CONFIG, DEFAULT_METER, METERS, TempoMapConfig
from .estimate import estimate_tempo_map
from .grid import fit_grid
from .hits import catch_hits, catch_hits_counted, strong_accents
from .meter import detect_meter, three_four_evidence
from .model import TempoMap, TempoSegment, alternatives_text
from .salience import (PulseEvidence, TempoEvidence, bpm_grid, coarse_tempo, family_salience, smooth,
                       tempo_evidence, tempo_prior, tempo_salience)
from .segments import partition

__all__ = ["ALTERNATIVES", "DEFAULT_CONFIG", "DEFAULT_METER", "METERS", "PulseEvidence", "TempoEvidence", "TempoMap",
           "TempoMapConfig", "TempoSegment", "alternatives_text", "bpm_grid", "catch_hits", "catch_hits_counted",
           "coarse_tempo", "detect_meter", "estimate_tempo_map", "family_salience", "fit_grid", "partition",
           "smooth", "strong_accents", "tempo_evidence", "tempo_prior", "tempo_salience", "three_four_evidence"]
