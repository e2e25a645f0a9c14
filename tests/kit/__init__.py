"""The tests' one fixture kit: paths, real servers on 127.0.0.1, and the data generators the tiers share."""
