"""The music model (needs torch): rhythm and genre encoders, pseudo-word injection, tokenizers,
checkpoints and the device rule."""
