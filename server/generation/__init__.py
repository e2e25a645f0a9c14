"""Making music: the backbones behind one interface (:mod:`.backbones`), beat lock (warping a take
onto the motion's beats) and audio file writing."""
