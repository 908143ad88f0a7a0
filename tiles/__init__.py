"""Raster geometry and I/O for geopix, installed as ``geo_pix2pix.tiles``.

The tiler (paired windows from two rasters, aligned grids, nodata, spatial splits) and the
mosaicker (sliding windows, blending, streaming georeferenced writing). Knows no network:
the mosaicker takes a predict function. Submodules are imported on demand so that importing
this package stays cheap (no GDAL, no torch).
"""
