"""Conforming music onto a motion's tempo map: a user's song, or a generated take (beat lock).

Along the flow: :mod:`.song` reads and checks the audio file, :mod:`.song_beats` finds its beats
and bars, :mod:`.timemap` plans which stretch of the song lands on which beat of the map,
:mod:`.stretch` renders that plan with Rubber Band (through pedalboard), and :mod:`.conform`
ties them together.
"""
