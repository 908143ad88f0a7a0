"""The training configuration: one frozen dataclass, saved as ``config.json`` in the run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any

from geo_pix2pix.tiles.pair import PairSpec

__all__ = ["TrainConfig", "DIRECTIONS", "RECIPES", "CPU_RECIPE"]

DIRECTIONS = ("sat2map", "map2sat")

#: What trains best on a CPU in a fixed time, found by measurement (``bench/cpu_recipe.py``,
#: figures in ``bench/README.md``): a U-Net half as wide on 64-pixel windows, 16 to a batch, so a
#: step is cheap and many windows are seen; a 5x higher learning rate and a 4x heavier L1 term, so
#: the map's colours are learnt in hundreds of steps rather than tens of thousands; and the L1
#: weighted 5x at the map's colour edges (``edge_weight`` 4), so thin strokes such as roads are
#: drawn early. The GAN term and the PatchGAN stay, with batch norm (instance norm drew roads as
#: well but lost the other classes). The fully convolutional U-Net translates tiles of any
#: multiple of 32 pixels.
CPU_RECIPE: Mapping[str, Any] = MappingProxyType(
    {"tile": 64, "batch_size": 16, "ngf": 32, "ndf": 32, "lr": 1e-3, "lambda_l1": 400.0, "edge_weight": 4.0})

#: Named sets of defaults: ``paper`` is the paper's configuration (TrainConfig's own defaults,
#: the GPU default), ``cpu`` the CPU recipe.
RECIPES: Mapping[str, Mapping[str, Any]] = MappingProxyType({"paper": MappingProxyType({}), "cpu": CPU_RECIPE})


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (paths, model, optimisation, schedule).

    Attributes:
        pairs: imagery/map pairs to learn from.
        out: run directory.
        direction: ``sat2map`` (imagery -> map) or ``map2sat`` (map -> imagery).
        generator: ``unet`` or ``smp:<encoder>``.
        encoder_weights: local file of smp encoder weights.
        ngf / ndf: first-layer filters of generator / discriminator.
        norm: generator normalisation (``batch``: the paper's; ``instance``).
        d_layers / d_norm: PatchGAN depth and normalisation.
        gan_loss: ``vanilla`` | ``lsgan`` | ``hinge``.
        lambda_l1: weight of the L1 term.
        edge_weight: extra L1 weight of pixels at the target's colour edges (0: the paper's L1).
        balance_palette: palette JSON of the map's classes: L1 weighted per class by
            ``frequency ** -balance_power`` (see :mod:`geo_pix2pix.balance`); ``None``: off.
        balance_power: exponent of the class weights (0.5: inverse square root of frequency).
        palette_head: palette JSON of the map's classes: the generator predicts a colour of the
            palette per pixel (see :mod:`geo_pix2pix.models.palette_head`); ``None``: RGB output.
        class_weight: weight of the palette head's class cross-entropy in G's loss.
        lr, beta1, beta2: Adam settings for both networks.
        decay_start: fraction of training after which the learning rate decays linearly to 0.
        tile: training window side in pixels.
        batch_size: windows per step.
        steps: total training steps.
        val_every: validate (metrics, sample grid) every this many steps.
        checkpoint_every: save a checkpoint every this many steps.
        stop_at: stop (saving a checkpoint) after this step, as if interrupted; resume later.
        seed: seed of weights, sampling, augmentation and dropout.
        device: ``auto`` | ``cpu`` | ``cuda`` | ``cuda:N`` | ``mps``.
        amp: mixed precision where the device computes it natively (CUDA; CPUs with AVX512-BF16/AMX).
        compile: run G and D through ``torch.compile`` (for GPUs; on a 2-core CPU it was slower).
        workers: DataLoader worker processes (``-1``: auto).
        min_valid, val_fraction, val_aoi: tiler settings (see ``TilerConfig``).
        val_windows: at most this many validation windows are scored.
        val_pairs: hold out the last N pairs whole for validation (0: blocks of every pair).
        time_budget: train until this many seconds have passed (the learning-rate schedule is
            laid over the budget); ``None``: train for ``steps``.
        recipe: the set of defaults the run started from (:data:`RECIPES`), for the record.
    """

    pairs: tuple[PairSpec, ...]
    out: str
    direction: str = "sat2map"
    generator: str = "unet"
    encoder_weights: str | None = None
    ngf: int = 64
    ndf: int = 64
    norm: str = "batch"
    d_layers: int = 3
    d_norm: str = "batch"
    gan_loss: str = "vanilla"
    lambda_l1: float = 100.0
    edge_weight: float = 0.0
    balance_palette: str | None = None
    balance_power: float = 0.5
    palette_head: str | None = None
    class_weight: float = 1.0
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    decay_start: float = 0.5
    tile: int = 256
    batch_size: int = 1
    steps: int = 1000
    val_every: int = 250
    checkpoint_every: int = 500
    stop_at: int | None = None
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    compile: bool = False
    workers: int = -1
    min_valid: float = 0.95
    val_fraction: float = 0.2
    val_aoi: str | None = None
    val_windows: int = 32
    val_pairs: int = 0
    time_budget: float | None = None
    recipe: str = "paper"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["pairs"] = [asdict(p) for p in self.pairs]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in names}
        d["pairs"] = tuple(
            PairSpec(p["imagery"], p["maps"],
                     tuple(p["imagery_bands"]) if p.get("imagery_bands") else None,
                     tuple(p["map_bands"]) if p.get("map_bands") else None,
                     p.get("resampling"), p.get("aligned"))
            for p in d["pairs"]
        )
        return cls(**d)

    def with_(self, **changes: Any) -> TrainConfig:
        return replace(self, **changes)

    def lr_at(self, step: int) -> float:
        """Learning rate of (0-based) ``step``: constant, then linear decay to 0 at ``steps``."""
        return self.lr_at_fraction(step / self.steps if self.steps else 1.0)

    def lr_at_fraction(self, done: float) -> float:
        """Learning rate when a fraction ``done`` of training (steps or time budget) is done."""
        if done < self.decay_start or self.decay_start >= 1.0:
            return self.lr
        return self.lr * max(0.0, 1.0 - (done - self.decay_start) / (1.0 - self.decay_start))
