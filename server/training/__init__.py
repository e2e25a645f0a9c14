"""Training the encoders: data folders, AIST++ import, synthetic dance worlds, the training loop,
pretraining a tiny MusicGen, and the learning proof's experiment."""
