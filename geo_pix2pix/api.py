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
from typing import Any, TypeVar, cast

import numpy as np

from geo_pix2pix.files.modelfile import ModelMeta
from geo_pix2pix.inference.run_options import (
    FillOptions,
    ModelOptions,
    OutputOptions,
    TilingOptions,
    TranslateOptions,
    keyword_signature,
    keyword_values,
    values_of,
)
from geo_pix2pix.inference.vector_layouts import VectorRegion
from geo_pix2pix.tiles.errors import BandError, GeopixError, environment_error
from geo_pix2pix.tiles.mosaic.fill import FillResult
from geo_pix2pix.tiles.mosaic.mosaicker import MosaicResult
from geo_pix2pix.training.config import TrainConfig

__all__ = ["Model", "load_model", "fit", "merge", "TrainConfig", "GeopixError", "MosaicResult", "FillResult"]

F = TypeVar("F", bound=Callable[..., Any])

#: The option groups whose fields are the keyword arguments of Model.translate / inpaint / predict.
_TRANSLATE = (TilingOptions, OutputOptions, TranslateOptions)
_INPAINT = (FillOptions, TilingOptions, OutputOptions)
_PREDICT = ("tile", "overlap", "batch_size", "style", "seed")


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

    Use :func:`load_model` to make one. The model file's metadata is :attr:`meta`
    (:class:`~geo_pix2pix.files.modelfile.ModelMeta`): family, direction, bands, normalisation,
    tile, step, map kind, read as attributes (``model.meta.family``) or as a read-only mapping
    (``model.meta["family"]``, ``model.meta.get("family")``, ``dict(model.meta)``).
    """

    def __init__(self, predictor: Any) -> None:
        self._pred = predictor

    @property
    def path(self) -> Path:
        """The model file."""
        return Path(self._pred.path)

    @property
    def meta(self) -> ModelMeta:
        """The model file's metadata: attributes, and a read-only mapping of the same values."""
        return cast(ModelMeta, self._pred.meta)

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
        return (f"<geopix Model {self.path} ({m.summary()}, reads bands {','.join(map(str, m.input_bands))} of "
                f"{m.input_stats.dtype})>")

    @_api
    def translate(self, region: str | os.PathLike[str] | VectorRegion, out: str | os.PathLike[str], *,
                  progress: Callable[[int, int], None] | None = None, **options: Any) -> MosaicResult:
        """Translate the raster ``region`` into the Cloud Optimized GeoTIFF ``out``, on its grid.

        What ``geopix translate`` does: the region is checked against the model (bands, dtype;
        warnings for a different pixel size or content unlike the training input go to the
        ``geo_pix2pix`` logger; content that looks like the other side of the pair is refused
        unless ``force``), tiled with overlap and blended seam-free; ``out`` is written to a
        temporary file and renamed, and an existing ``out`` is only replaced with ``overwrite``.

        ``region`` may also be a :class:`~geo_pix2pix.inference.vector_layouts.VectorRegion` (vector layers over a
        grid) for a model that paints from class layouts: the layers are burnt with the model's
        classes onto that grid (a temporary raster beside ``out``), which is then ``out``'s grid.

        Keyword arguments: the options of ``geopix translate``, by field name, as declared in
        :mod:`geo_pix2pix.inference.run_options` (:class:`~.TilingOptions`: ``tile``, ``overlap``,
        ``batch_size``, ``bands``; :class:`~.OutputOptions`: ``creation_options`` as a mapping,
        ``overwrite``; :class:`~.TranslateOptions`: ``output_dtype``, ``palette``, ``probabilities``,
        ``style``, ``seed``, ``force``, ``shard`` as ``"I/N"`` or ``(I, N)``: write only that part, for
        :func:`merge`). ``progress(tiles_done, tiles_total)`` is called after each row of tiles.
        """
        from geo_pix2pix.inference.translate import TranslateConfig, translate
        from geo_pix2pix.tiles.raster import check_input_file

        if isinstance(region, VectorRegion):  # burnt with the model's classes, then as a raster
            from geo_pix2pix.inference.vector_layouts import burnt_region

            with burnt_region(region, self.meta, out) as path:
                return self.translate(path, out, progress=progress, **options)
        check_input_file(region, "region")
        values = keyword_values(_TRANSLATE, options, "translate")
        values["tile"] = self._engine_tile(values.get("tile"), values.get("style"), values.get("seed"))
        cfg = TranslateConfig(model=str(self.path), **values)
        result, _ = translate(region, out, cfg, progress=progress, predictor=self._pred)
        return result

    @_api
    def inpaint(self, region: str | os.PathLike[str], out: str | os.PathLike[str], *,
                progress: Callable[[int, int], None] | None = None, **options: Any) -> FillResult:
        """Fill the holes of the raster ``region`` into the COG ``out`` (an inpainting model,
        ``--task inpaint``): what ``geopix inpaint`` does.

        The holes are the region's invalid pixels (nodata, alpha, mask, NaN), or ``holes``: a mask
        raster (non-zero = hole) or polygons, in any CRS. Valid pixels come out bit for bit; holes
        whose farthest pixel lies more than ``max_hole`` pixels from a known one stay nodata
        (:data:`~geo_pix2pix.inference.run_options.DEFAULT_MAX_HOLE`, with a warning). The state of
        every pixel (kept, filled, too large, nodata) is written to ``record`` (default
        ``OUT.filled.tif``). Returns the paths, the tiles run and the hole plan's counts.

        Keyword arguments: :class:`~geo_pix2pix.inference.run_options.FillOptions` (``holes``,
        ``max_hole``, ``record``) and, as for :meth:`translate`, the tiling and output options.
        """
        from geo_pix2pix.inference.inpainting import InpaintConfig, inpaint
        from geo_pix2pix.tiles.raster import check_input_file

        check_input_file(region, "region")
        values = keyword_values(_INPAINT, options, "inpaint")
        values["tile"] = self._engine_tile(values.get("tile"))
        cfg = InpaintConfig(model=str(self.path), **values)
        return inpaint(region, out, cfg, progress=progress, predictor=self._pred)

    @_api
    def predict(self, array: np.ndarray, mask: np.ndarray | None = None, **options: Any) -> np.ma.MaskedArray:
        """Translate an array of any size, in memory, exactly as translate does a raster.

        Args:
            array: ``(bands, height, width)`` values in the model's input units, holding the
                model's input bands in its order (:attr:`input_bands`; ``src.read(model.input_bands)``),
                in the training input's dtype or any floating-point dtype. A one-band model also
                takes ``(height, width)``.
            mask: ``(height, width)`` validity, True where the input is valid (e.g.
                ``src.dataset_mask() > 0``); NaN in floating-point input is invalid too. Invalid
                pixels are filled from the valid ones before the generator reads them, as
                translate fills a raster's masked pixels, so what they hold does not matter.
            **options: ``tile``, ``overlap``, ``batch_size``, ``style`` and ``seed``, as for
                :meth:`translate`.

        Returns:
            ``(output bands, height, width)`` in the target's units and dtype, a numpy masked array
            masked where the input is invalid (like rasterio's ``read(masked=True)``).
        """
        from geo_pix2pix.inference.style import choose_style
        from geo_pix2pix.inference.translate import choose_tiling
        from geo_pix2pix.tiles.mosaic.arrays import mosaic_array

        settings = {**values_of(TilingOptions(), TranslateOptions()),
                    **keyword_values(_TRANSLATE, options, "predict", _PREDICT)}
        if self.meta.family == "inpaint":
            raise GeopixError(f"{self.path} is an inpainting model: fill a raster's holes with Model.inpaint")
        data = self._checked_array(array)
        tile = self._engine_tile(settings["tile"], settings["style"], settings["seed"])
        tile, overlap = choose_tiling(self._pred, data.shape[1], data.shape[2], tile, settings["overlap"],
                                      settings["batch_size"])
        m = self.meta
        z = choose_style(self._pred.G, m, self._pred.plan.device, settings["style"], settings["seed"])
        def run(tiles: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
            return cast(np.ndarray, self._pred(tiles, z, valid))

        return mosaic_array(data, run, m.input_stats, m.output_stats, tile, overlap, settings["batch_size"], mask)

    def _engine_tile(self, tile: int | None, style: Any = None, seed: int | None = None) -> int | None:
        """The tile to use with this model's engine: an ONNX graph exported with a fixed tile takes
        that one (the default), and its style was fixed at export."""
        fixed = getattr(self._pred, "fixed_tile", None)
        if getattr(self._pred, "engine", "torch") != "torch" and (style is not None or seed is not None):
            raise GeopixError(f"{self.path} is an ONNX model: its style was fixed at export (geopix export "
                              "--style/--seed); translate it without --style/--seed")
        if fixed and tile is not None and tile != fixed:
            from geo_pix2pix.tiles.errors import TileSizeError

            raise TileSizeError(f"{self.path} was exported for {fixed}-pixel tiles only; leave out --tile-size, or "
                                "export it again without --tile")
        return fixed or tile

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


# help(), IDEs and inspect show the declared keyword arguments of the methods that take **options
Model.translate.__signature__ = keyword_signature(Model.translate, _TRANSLATE)  # type: ignore[attr-defined]
Model.inpaint.__signature__ = keyword_signature(Model.inpaint, _INPAINT)  # type: ignore[attr-defined]
Model.predict.__signature__ = keyword_signature(Model.predict, _TRANSLATE, _PREDICT)  # type: ignore[attr-defined]


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
def load_model(model: str | os.PathLike[str] | None = None, **options: Any) -> Model:
    """Load a model (a run directory, a ``model.safetensors`` file, or an ONNX file ``geopix export``
    wrote; default ``runs/latest``) once, for many calls.

    An ``.onnx`` file runs through ONNX Runtime (``pip install geopix[onnx]``) with the same tiling,
    blending, masks and outputs; its style (SPADE) is the one fixed at export, and a file exported
    with ``--tile`` takes that tile only (the default then).

    Keyword arguments: :class:`~geo_pix2pix.inference.run_options.ModelOptions`' ``device``
    (``auto``: a GPU if there is one; ``cpu``, ``cuda``, ``cuda:N``, ``mps``; ONNX: cpu, cuda), ``amp``
    (mixed precision where the device computes it natively; torch only) and ``tta`` (average each
    tile over its 8 rotations/mirrors, 8x the compute), as ``geopix translate`` takes them.
    """
    from geo_pix2pix.inference.predict import load_predictor

    chosen = ModelOptions(**keyword_values([ModelOptions], {"model": model, **options}, "load_model"))
    return Model(load_predictor(chosen.model, chosen.device, chosen.amp, chosen.tta))


load_model.__signature__ = keyword_signature(load_model, [ModelOptions], ("device", "amp", "tta"))  # type: ignore


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
