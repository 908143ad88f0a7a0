"""Evaluation: metrics of translations and fills, class scores, previews."""
