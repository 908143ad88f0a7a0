"""Tests of geo_pix2pix.tiles.encoding."""
