"""Inference: translating regions, predicting arrays, filling holes, styles and vector layouts."""
