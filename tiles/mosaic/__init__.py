"""A whole raster through a predict function: the tile grid, blending, shards and the COG sinks."""
