"""Imagery/map pairs: reading and aligning them, splitting, sampling windows, datasets and chips."""
