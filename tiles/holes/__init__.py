"""Holes: drawn into training windows, and planned in a region for inpainting."""
