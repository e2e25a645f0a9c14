"""Judging music: beat tracking and beat/alignment metrics, the evaluation runner, audio embedders
(FAD, CLAP), paired statistics and plots."""
