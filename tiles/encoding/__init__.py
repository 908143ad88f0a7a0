"""Raster values as networks see them: normalisation, class tables, vector layers burnt to classes."""
