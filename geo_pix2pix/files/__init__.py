"""The files a run leaves: the model file, checkpoints and the run directory."""
