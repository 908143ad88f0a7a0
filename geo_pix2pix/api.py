"""The geopix Python API: what the ``geopix`` command does, for notebooks and pipelines.

    import rasterio

    import geo_pix2pix as geopix

    model = geopix.load_model("runs/demo")                  # a run directory or a model file, once
    model.translate("region.tif", "region_map.tif")         # a raster -> a COG on the same grid
    with rasterio.open("region.tif") as src:
        out = model.predict(src.read(model.input_bands), mask=src.dataset_mask() > 0)
    filler = geopix.load_model("runs/fill")                 # a model trained with task="inpaint"
    filler.inpaint("scene.tif", "filled.tif", holes="clouds.gpkg")
    config, _ = geopix.apply_recipe(geopix.TrainConfig(pairs=(geopix.PairSpec("sat.tif", "map.tif"),),
                                                       out="runs/new"), "cpu")
    result = geopix.fit(config, on_step=lambda step, losses: print(step, losses.as_row()))

The command line is a thin layer over these functions, so both behave alike: the same checks,
the same pixels (an array through :meth:`Model.predict` equals translate of the same raster), and
the same errors. Every error a user can cause, from geopix's own checks or from the environment
(GDAL, the file system), reaches the caller as a :class:`GeopixError` whose message is the line
the CLI prints; anything else is a bug in geopix.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from geo_pix2pix.files.modelfile import ModelMeta
from geo_pix2pix.inference.vector_layouts import VectorRegion
from geo_pix2pix.tiles.errors import BandError, GeopixError, environment_error
from geo_pix2pix.tiles.mosaic.fill import FillResult
from geo_pix2pix.tiles.mosaic.mosaicker import MosaicResult
from geo_pix2pix.training.config import TrainConfig

__all__ = ["Model", "load_model", "fit", "merge", "TrainConfig", "GeopixError", "MosaicResult", "FillResult"]

F = TypeVar("F", bound=Callable[..., Any])


@contextlib.contextmanager
def geopix_errors() -> Iterator[None]:
    """Re-raise environment errors (GDAL, the file system) as :class:`GeopixError` with the CLI's line."""
    try:
        yield
    except GeopixError:
        raise
    except Exception as exc:
        known = environment_error(exc)
        if known is None:
            raise
        raise known from exc


def _api(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with geopix_errors():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


class Model:
    """A trained geopix model, loaded once, that translates rasters and predicts arrays.

    Use :func:`load_model` to make one. Attributes of the model file are in :attr:`meta`
    (:class:`~geo_pix2pix.files.modelfile.ModelMeta`): family, direction, bands, normalisation, tile.
    """

    def __init__(self, predictor: Any) -> None:
        self._pred = predictor

    @property
    def path(self) -> Path:
        """The model file."""
        return Path(self._pred.path)

    @property
    def meta(self) -> ModelMeta:
        return self._pred.meta  # type: ignore[no-any-return]

    @property
    def input_bands(self) -> list[int]:
        """1-based bands the model reads from an input raster, in order (``src.read(model.input_bands)``)."""
        return list(self.meta.input_bands)

    @property
    def output_bands(self) -> int:
        """Number of bands the model writes (1 for class codes)."""
        return self.meta.output_stats.out_bands

    def __repr__(self) -> str:
        m = self.meta
        return (f"<geopix Model {self.path} ({m.family} {m.generator.name}, {m.direction}, step {m.step}, "
                f"reads bands {','.join(map(str, m.input_bands))} of {m.input_stats.dtype})>")

    @_api
    def translate(self, region: str | os.PathLike[str] | VectorRegion, out: str | os.PathLike[str], *,
                  tile: int | None = None,
                  overlap: int | None = None, batch_size: int = 8,
                  creation_options: dict[str, str] | None = None, bands: tuple[int, ...] | None = None,
                  output_dtype: str | None = None, palette: str | None = None,
                  probabilities: str | os.PathLike[str] | None = None, overwrite: bool = False,
                  progress: Callable[[int, int], None] | None = None, style: str | os.PathLike[str] | None = None,
                  seed: int | None = None, shard: str | tuple[int, int] | None = None) -> MosaicResult:
        """Translate the raster ``region`` into the Cloud Optimized GeoTIFF ``out``, on its grid.

        What ``geopix translate`` does: the region is checked against the model (bands, dtype;
        warnings for a different pixel size or content unlike the training input go to the
        ``geo_pix2pix`` logger), tiled with overlap and blended seam-free; ``out`` is written to a
        temporary file and renamed, and an existing ``out`` is only replaced with ``overwrite``.

        ``region`` may also be a :class:`~geo_pix2pix.inference.vector_layouts.VectorRegion` (vector layers over a
        grid) for a model that paints from class layouts: the layers are burnt with the model's
        classes onto that grid (a temporary raster beside ``out``), which is then ``out``'s grid.

        Args:
            tile / overlap: tile side and overlap in pixels (default: see
                :func:`~geo_pix2pix.inference.translate.default_tile`; a quarter of the tile).
            batch_size: tiles per forward pass.
            creation_options: GDAL COG creation options (``{"COMPRESS": "ZSTD"}``), checked
                against the COG driver's list.
            bands: bands of ``region`` to read, in the model's order (needed when the region has
                more bands than the training input had).
            output_dtype: dtype of a measured-value output (default float32).
            palette: palette JSON: write an RGB map as classes (nearest palette colour, codes 1..K).
            probabilities: a class model's per-class probabilities, also written to this float32
                COG (a second pass over the region).
            progress: called as ``progress(tiles_done, tiles_total)`` after each row of tiles.
            style / seed: a SPADE model with a style encoder paints in the style of the reference
                raster ``style``, or of a random draw reproducible by ``seed``; neither: the
                deterministic default. One style per raster.
            shard: ``"I/N"`` or ``(I, N)``: write only shard I (from 0) of N, a band of tile rows,
                into the GeoTIFF part ``out``; :func:`merge` puts the N parts together into the
                COG an unsharded translate writes, pixel for pixel.
        """
        from geo_pix2pix.inference.translate import TranslateConfig, translate
        from geo_pix2pix.tiles.mosaic.cog_options import check_creation_options
        from geo_pix2pix.tiles.raster import check_input_file

        if isinstance(region, VectorRegion):  # burnt with the model's classes, then as a raster
            from geo_pix2pix.inference.vector_layouts import burnt_region

            with burnt_region(region, self.meta, out) as path:
                return self.translate(path, out, tile=tile, overlap=overlap, batch_size=batch_size,  # type: ignore[no-any-return]
                                      creation_options=creation_options, bands=bands, output_dtype=output_dtype,
                                      palette=palette, probabilities=probabilities, overwrite=overwrite,
                                      progress=progress, style=style, seed=seed, shard=shard)
        check_input_file(region, "region")
        options = check_creation_options(creation_options or {})
        cfg = TranslateConfig(model=str(self.path), tile=tile, overlap=overlap, batch_size=batch_size,
                              creation_options=tuple(options.items()), overwrite=overwrite,
                              bands=tuple(bands) if bands else None, output_dtype=output_dtype, palette=palette,
                              probabilities=os.fspath(probabilities) if probabilities is not None else None,
                              style=os.fspath(style) if style is not None else None, seed=seed,
                              shard=_shard(shard))
        result, _ = translate(region, out, cfg, progress=progress, predictor=self._pred)
        return result

    @_api
    def inpaint(self, region: str | os.PathLike[str], out: str | os.PathLike[str], *,
                holes: str | os.PathLike[str] | None = None, max_hole: float | None = None,
                record: str | os.PathLike[str] | None = None, tile: int | None = None, overlap: int | None = None,
                batch_size: int = 8, creation_options: dict[str, str] | None = None,
                bands: tuple[int, ...] | None = None, overwrite: bool = False,
                progress: Callable[[int, int], None] | None = None) -> FillResult:
        """Fill the holes of the raster ``region`` into the COG ``out`` (an inpainting model,
        ``--task inpaint``): what ``geopix inpaint`` does.

        The holes are the region's invalid pixels (nodata, alpha, mask, NaN), or ``holes``: a mask
        raster (non-zero = hole) or polygons, in any CRS. Valid pixels come out bit for bit; holes
        whose farthest pixel lies more than ``max_hole`` pixels from a known one stay nodata
        (:data:`~geo_pix2pix.inference.inpainting.DEFAULT_MAX_HOLE`, with a warning). The state of every pixel
        (kept, filled, too large, nodata) is written to ``record`` (default ``OUT.filled.tif``).
        Returns the paths, the tiles run and the hole plan's counts.
        """
        from geo_pix2pix.inference.inpainting import DEFAULT_MAX_HOLE, InpaintConfig, inpaint
        from geo_pix2pix.tiles.mosaic.cog_options import check_creation_options
        from geo_pix2pix.tiles.raster import check_input_file

        check_input_file(region, "region")
        options = check_creation_options(creation_options or {})
        cfg = InpaintConfig(model=str(self.path), holes=os.fspath(holes) if holes is not None else None,
                            max_hole=DEFAULT_MAX_HOLE if max_hole is None else float(max_hole),
                            record=os.fspath(record) if record is not None else None, tile=tile, overlap=overlap,
                            batch_size=batch_size, creation_options=tuple(options.items()), overwrite=overwrite,
                            bands=tuple(bands) if bands else None)
        return inpaint(region, out, cfg, progress=progress, predictor=self._pred)

    @_api
    def predict(self, array: np.ndarray, mask: np.ndarray | None = None, *, tile: int | None = None,
                overlap: int | None = None, batch_size: int = 8, style: str | os.PathLike[str] | None = None,
                seed: int | None = None) -> np.ma.MaskedArray:
        """Translate an array of any size, in memory, exactly as translate does a raster.

        Args:
            array: ``(bands, height, width)`` values in the model's input units, holding the
                model's input bands in its order (:attr:`input_bands`; ``src.read(model.input_bands)``),
                in the training input's dtype or any floating-point dtype. A one-band model also
                takes ``(height, width)``.
            mask: ``(height, width)`` validity, True where the input is valid (e.g.
                ``src.dataset_mask() > 0``); NaN in floating-point input is invalid too.
            tile / overlap / batch_size / style / seed: as for :meth:`translate`.

        Returns:
            ``(output bands, height, width)`` in the target's units and dtype, a numpy masked array
            masked where the input is invalid (like rasterio's ``read(masked=True)``).
        """
        from geo_pix2pix.inference.style import choose_style
        from geo_pix2pix.inference.translate import choose_tiling
        from geo_pix2pix.tiles.mosaic.arrays import mosaic_array

        if self.meta.family == "inpaint":
            raise GeopixError(f"{self.path} is an inpainting model: fill a raster's holes with Model.inpaint")
        data = self._checked_array(array)
        tile, overlap = choose_tiling(self._pred, data.shape[1], data.shape[2], tile, overlap)
        m = self.meta
        z = choose_style(self._pred.G, m, self._pred.plan.device, os.fspath(style) if style else None, seed)
        run = self._pred if z is None else functools.partial(self._pred, style=z)
        return mosaic_array(data, run, m.input_stats, m.output_stats, tile, overlap, batch_size, mask)

    def _checked_array(self, array: Any) -> np.ndarray:
        m = self.meta
        data = np.asarray(array)
        if data.ndim == 2 and len(m.input_bands) == 1:
            data = data[None]
        bands = ",".join(map(str, m.input_bands))
        if data.ndim != 3 or data.shape[0] != len(m.input_bands):
            raise BandError(f"the array is {'x'.join(map(str, data.shape))} but the model reads "
                            f"{len(m.input_bands)} band(s) ({bands}): give (bands, height, width), e.g. "
                            f"src.read([{bands}])")
        if data.shape[1] == 0 or data.shape[2] == 0:
            raise BandError(f"the array is {'x'.join(map(str, data.shape))}: it has no pixels")
        trained = np.dtype(m.input_stats.dtype)
        if data.dtype != trained and not np.issubdtype(data.dtype, np.floating):
            raise GeopixError(f"the array is {data.dtype} but the model was trained on {trained} input; "
                              f"give values in the training units as {trained} or a float array")
        return data


def _shard(shard: Any) -> Any:
    from geo_pix2pix.tiles.mosaic.shard import Shard, parse_shard

    if shard is None or isinstance(shard, Shard):
        return shard
    if isinstance(shard, str):
        return parse_shard(shard)
    i, n = shard
    return parse_shard(f"{int(i)}/{int(n)}")


@_api
def merge(out: str | os.PathLike[str], parts: list[str | os.PathLike[str]] | str | os.PathLike[str], *,
          overwrite: bool = False, progress: Callable[[int, int], None] | None = None) -> Any:
    """Merge the parts of a sharded translation (files, or a folder of them) into the COG ``out``.

    The parts are checked to belong together (one model and options, one source grid, every
    shard once); the merged raster's pixels equal an unsharded translate's.
    ``progress(rows_done, rows_total)`` is called as rows are written. Returns a
    :class:`~geo_pix2pix.tiles.mosaic.merge.MergeResult`.
    """
    from geo_pix2pix.tiles.mosaic.merge import merge_parts

    given = [parts] if isinstance(parts, (str, os.PathLike)) else list(parts)
    return merge_parts(out, given, overwrite=overwrite, progress=progress)


@_api
def load_model(model: str | os.PathLike[str] = "runs/latest", *, device: str = "auto", amp: bool = True,
               tta: bool = False) -> Model:
    """Load a model (a run directory or a ``model.safetensors`` file) once, for many calls.

    Args:
        device: ``auto`` (a GPU if there is one), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        amp: mixed precision where the device computes it natively.
        tta: average each tile over its 8 rotations/mirrors (8x the compute).
    """
    from geo_pix2pix.inference.predict import Predictor

    return Model(Predictor(model, device, amp, tta))


@_api
def fit(config: TrainConfig, *, resume: bool = False, on_step: Callable[[int, Any], None] | None = None,
          progress_bar: bool = False) -> Any:
    """Train (or, with ``resume``, continue) the run ``config.out`` as ``geopix train`` does.

    ``config`` holds every training option (:class:`~geo_pix2pix.training.config.TrainConfig`; start from
    a family's recipe with :func:`~geo_pix2pix.training.recipes.apply_recipe`). ``on_step(step, losses)`` is
    called after every step with the step's named losses (``losses.as_row()``). Returns a
    :class:`~geo_pix2pix.training.loop.FitResult`: the run directory, the last step and the validation
    metrics. The model file is ``result.run_dir / "model.safetensors"``, for :func:`load_model`.
    """
    from geo_pix2pix.training.loop import fit as run

    return run(config, resume=resume, progress=progress_bar, on_step=on_step)
