"""``geopix tile``: cut an imagery/map pair into georeferenced chip pairs and an index."""

from __future__ import annotations

import click

from geo_pix2pix.cli.config_options import overwrite_opt
from geo_pix2pix.cli.options import bands_opts, resampling_opt, split_opts, tile_size_opt


@click.command()
@click.option("--imagery", required=True, type=click.Path(), help="Imagery raster (defines the grid).")
@click.option("--maps", required=True, type=click.Path(), help="Map raster (aligned onto the imagery grid).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output directory.")
@tile_size_opt()
@click.option("--overlap", type=click.IntRange(min=0), default=0, show_default=True,
              help="Overlap of neighbouring training chips in pixels.")
@bands_opts
@resampling_opt
@split_opts
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the validation block choice.")
@overwrite_opt
def tile(imagery: str, maps: str, out_dir: str, tile_size: int, overlap: int,
         imagery_bands: tuple[int, ...] | None, map_bands: tuple[int, ...] | None,
         resampling: str | None, min_valid: float, val_fraction: float, val_aoi: str | None,
         seed: int, overwrite: bool) -> None:
    """Cut an imagery/map pair into chip pairs (GeoTIFFs) with an index.gpkg of footprints.

    \b
    Example:
      geopix tile --imagery examples/data/houston_sat.tif \\
                  --maps examples/data/houston_map.tif --out out/chips --tile-size 128
    """
    from pathlib import Path

    from geo_pix2pix.tiles.mosaic.grid import check_tiling
    from geo_pix2pix.tiles.pairs.chips import write_chips
    from geo_pix2pix.tiles.pairs.pair import PairSpec
    from geo_pix2pix.tiles.pairs.prepare import TilerConfig
    from geo_pix2pix.tiles.pairs.split import SplitConfig

    check_tiling(tile_size, overlap)
    spec = PairSpec(imagery, maps, imagery_bands, map_bands, resampling)
    config = TilerConfig(tile=tile_size, min_valid=min_valid,
                         split=SplitConfig(val_fraction=val_fraction, seed=seed), val_aoi=val_aoi)
    s = write_chips(spec, config, Path(out_dir), overlap=overlap, overwrite=overwrite)
    click.echo(
        f"wrote {s.train} training and {s.val} validation chip pairs to {out_dir} "
        f"(skipped {s.skipped_invalid} with too little valid data, {s.skipped_gap} in the "
        f"train/validation gap); index: {s.index_path}"
    )
