"""The ``geopix`` command line, installed as ``geo_pix2pix.cli``. Nothing imports it."""
