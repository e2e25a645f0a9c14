"""The data sets: AIST++ import, training data folders, synthetic worlds, the real test clips."""
