"""Tests of geo_pix2pix.models."""
