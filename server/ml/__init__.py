"""The music model (needs torch): rhythm/genre encoders, pseudo-word prompts, checkpoints."""
