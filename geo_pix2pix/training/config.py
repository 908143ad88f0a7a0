"""The training configuration: one frozen dataclass, saved as ``config.json`` in the run.

Every field is declared once, with :func:`~geo_pix2pix.training.option_fields.option`: its type, default and help
text live here, ``geopix train``'s options are built from them and the JSON round trip follows
them. A model family's own options (Pix2PixHD's residual blocks, ...) are declared the same way in
the family's module and travel in ``family_options``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from types import MappingProxyType
from typing import Any

from geo_pix2pix.families.registry import FAMILIES
from geo_pix2pix.tiles.encoding.classes import MAP_KINDS
from geo_pix2pix.tiles.pairs.pair import PairSpec
from geo_pix2pix.training.option_fields import internal, option

__all__ = ["CPU_RECIPE", "DIRECTIONS", "RECIPES", "TrainConfig"]

DIRECTIONS = ("sat2map", "map2sat")

#: What trains best on a CPU in a fixed time, found by measurement (``bench/cpu_recipe.py`` and
#: ``bench/learning.py``, figures in ``bench/README.md``): a U-Net half as wide on 128-pixel windows,
#: 4 to a batch, so a step is cheap (the same pixels per step as 16 windows of 64, at the same step
#: rate) while each window shows streets in more of their context and the U-Net gets a seventh
#: level (10.5M weights against 7.3M at 64 pixels); 128-pixel windows were ahead of or level with
#: 64-pixel ones at every budget measured, from 600 steps to 40 minutes and on a held-out city
#: (bench/README.md, fourth round). A 5x higher learning rate and a 4x
#: heavier L1 term, so the map's colours are learnt in hundreds of steps rather than tens of
#: thousands; and the L1 weighted 5x at the map's colour edges (``edge_weight`` 4), so thin strokes
#: such as roads are drawn early. The GAN term and the PatchGAN stay, with batch norm (instance norm
#: drew roads as well but lost the other classes). The imagery is jittered in colour and the
#: windows zoomed by up to 1.25x (``colour_jitter``, ``scale_jitter``): a few dozen pairs of one
#: city then keep teaching areas such as parks, which the unaugmented recipe loses as it fits
#: those pairs in a longer run, for a little road IoU and about a tenth of the steps; in the
#: first minute or two it costs more than it gives. The averaged generator (``ema_decay``) stays
#: off: on top of the augmentation it gained nothing, and in short runs it lagged. The fully
#: convolutional U-Net translates tiles of any multiple of 128 pixels (``geopix translate``'s
#: default tile is 256).
CPU_RECIPE: Mapping[str, Any] = MappingProxyType(
    {"tile": 128, "batch_size": 4, "ngf": 32, "ndf": 32, "lr": 1e-3, "lambda_l1": 400.0, "edge_weight": 4.0,
     "colour_jitter": 1.0, "scale_jitter": 1.25})

#: The Pix2Pix family's named sets of defaults: ``paper`` is the paper's configuration
#: (TrainConfig's own defaults, the GPU default), ``cpu`` the CPU recipe. Other families name
#: their own (:attr:`geo_pix2pix.families.base.Family.recipes`).
RECIPES: Mapping[str, Mapping[str, Any]] = MappingProxyType({"paper": MappingProxyType({}), "cpu": CPU_RECIPE})


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (data, model, optimisation, schedule).

    Each field's help text is its documentation (``geopix train --help`` shows the same).
    """

    pairs: tuple[PairSpec, ...] = internal(help="imagery/map pairs to learn from (--imagery/--maps, --pairs, "
                                                "--aligned-dir)")
    out: str = option("run", "Run directory (default: runs/<date>-<time>-<direction>).", kind="path")
    task: str = option("translate", "translate: learn imagery <-> maps from pairs; inpaint: learn to fill holes "
                       "(clouds, stripes, nodata) in imagery, from --imagery alone (family inpaint; then "
                       "geopix inpaint).", choices=("translate", "inpaint"))
    family: str = option("pix2pix", "Model family: pix2pix (U-Net + PatchGAN), pix2pixhd (coarse-to-fine "
                         "generator, multi-scale discriminators, feature matching), spade (GauGAN: imagery painted "
                         "from a class layout, with styles; --direction map2sat) or inpaint (PatchGAN inpainting, "
                         "the default of --task inpaint).", choices=tuple(FAMILIES))
    direction: str = option("sat2map", "sat2map: imagery -> map; map2sat: map -> synthetic imagery.",
                            choices=("sat2map", "map2sat"))
    map_kind: str = option("auto", "What the map holds: categorical (class codes: one logit per class, "
                           "cross-entropy, codes + colour table out), continuous (measured values) or rendered (an "
                           "RGB picture); auto: a colour table or a one-band integer map with at most 32 values is "
                           "categorical, 3/4-band uint8 rendered, anything else continuous.",
                           choices=("auto", *MAP_KINDS))
    classes_from_palette: str | None = option(
        None, "Palette JSON (e.g. examples/palettes/google_maps_pix2pix.json): learn a rendered RGB map as classes, "
        "each pixel taking its nearest palette colour's class (anti-aliased edges included); writes class codes "
        "1..K with the palette as colour table.", kind="path")
    class_table: str | None = option(None, "Class table of a categorical map (JSON or CSV of code,name[,r,g,b]): "
                                     "names and colours, and classes the training area may lack.", kind="path")
    generator: str = option("unet", "pix2pix generator: unet (the paper's U-Net) or smp:<encoder>, "
                            "e.g. smp:resnet34.")
    encoder_weights: str | None = option(None, "Local encoder weights (.safetensors or .pth state dict) for smp "
                                         "generators; nothing is downloaded.", kind="path")
    init_from: str | None = option(
        None, "Start the generator from this run's (or model file's) generator: one trained self-supervised on "
        "imagery without maps (geopix train --task inpaint with the same --ngf and --tile-size), or a model of "
        "another city. Tensors of the same shape are copied (an inpainting model's mask channel dropped), the rest "
        "start fresh; the discriminator and the optimiser start afresh.", kind="path")
    ngf: int = option(64, "Generator filters in the first layer (fewer: smaller, faster model; pix2pixhd: the "
                      "finest branch's, the global generator has ngf x 2**n-local-enhancers).", min=1)
    unet_depth: int = option(0, "Stride-2 levels of the unet generator, 5 to 8 (0: as many as the training tile "
                             "allows, up to 8, the paper's: a 1x1 bottleneck in a 128- or 256-pixel window). Fewer "
                             "levels keep a bottleneck of several cells in each window.", min=0, max=8)
    upsample: str = option("transposed", "How the unet generator's decoder doubles its resolution: transposed (4x4 "
                           "stride-2 transposed convolutions, the paper's) or resize (nearest-neighbour, then a 3x3 "
                           "convolution: no checkerboard pattern, slightly slower steps; for a model of one pair, "
                           "which can otherwise repeat a pattern on imagery unlike its pair).",
                           choices=("transposed", "resize"))
    ndf: int = option(64, "Discriminator filters in the first layer.", min=1)
    norm: str = option("batch", "Generator normalisation.", choices=("batch", "instance"))
    d_layers: int = option(3, "PatchGAN layers per discriminator (3: 70x70 patches).", min=1, max=6)
    d_norm: str = option("batch", "Discriminator normalisation.", choices=("batch", "instance", "spectral"))
    gan_loss: str = option("vanilla", "Adversarial loss (averaged over the discriminator's scales).",
                           choices=("vanilla", "lsgan", "hinge"))
    r1_gamma: float = option(0.0, "R1 penalty on the discriminator (Mescheder et al. 2018): gamma/2 times the "
                             "squared gradient of the sum of its real-pair patch scores with respect to the real "
                             "map, which keeps D smooth near the data; lazy as in StyleGAN2 (every 16th step, 16x "
                             "the weight), about 4% of a CPU step. A PatchGAN sums many scores, so it wants far "
                             "smaller values than StyleGAN's: on 128-pixel windows 0.1 flattened D to chance, 0.001 "
                             "did not. 0: off, the paper's.", min=0)
    lambda_gan: float = option(1.0, "Weight of the adversarial term in the generator's loss (0: no "
                               "discriminator is trained).", min=0)
    lambda_l1: float = option(100.0, "Weight of the L1 term (not used for categorical maps, which learn by "
                              "cross-entropy).", min=0)
    edge_weight: float = option(0.0, "Extra L1 weight of pixels at the map's colour edges (thin strokes such as "
                                "roads); 0: the paper's L1.", min=0)
    balance_palette: str | None = option(
        None, "Palette JSON of the map's classes (e.g. examples/palettes/google_maps_pix2pix.json): weigh the L1 "
        "of each class by its training frequency ** -POWER, so rare classes (highways, water) are learnt.",
        kind="path")
    balance_classes: bool = option(False, "Categorical maps: weigh each class's cross-entropy by its training "
                                   "frequency ** -POWER (--balance-power), so rare classes are learnt.")
    balance_power: float = option(0.5, "Exponent of --balance-palette's and --balance-classes' class weights (0.5: "
                                  "inverse square root of frequency).", min=0)
    palette_head: str | None = option(
        None, "Palette JSON of the map's classes: the generator predicts which palette colour each pixel is and "
        "paints it, trained with a class cross-entropy next to the L1 (sat2map, RGB maps).", kind="path")
    class_weight: float = option(1.0, "Weight of the class cross-entropy (categorical maps, --palette-head).",
                                 min=0, min_open=True)
    lr: float = option(2e-4, "Adam learning rate of both networks.", min=0, min_open=True)
    beta1: float = option(0.5, "Adam beta1.", min=0, max=1)
    beta2: float = option(0.999, "Adam beta2.", min=0, max=1)
    decay_start: float = option(0.5, "Fraction of training after which the learning rate decays linearly to "
                                "zero.", min=0, max=1)
    warmup: float = option(0.0, "Fraction of training over which the learning rate first rises linearly from "
                           "near zero to --lr (0: none, the paper's).", min=0, max=0.5)
    ema_decay: float = option(0.0, "Average the generator's weights over training (an exponential moving average "
                              "with this decay per step, e.g. 0.999: about the last 1000 steps, shorter at the "
                              "start); validation, samples and the model file use the average, the checkpoint "
                              "keeps both. 0: off.", min=0, max=0.99999)
    tile: int = option(256, "Training window side in pixels (a multiple of the generator's stride product, e.g. "
                       "32 for the U-Net).", flag="--tile-size", min=32)
    batch_size: int = option(1, "Windows per training step.", min=1)
    steps: int = option(1000, "Training steps (or give --epochs or --time-budget).", min=1)
    epochs: float | None = option(None, "Train for this many passes over the training area instead of --steps "
                                  "(the step count it gives is recorded in config.json).", min=0, min_open=True)
    time_budget: float | None = option(None, "Train until this much time has passed (e.g. 20m, 90s, 1h30m), the "
                                       "learning-rate schedule fitted into it.", kind="duration", metavar="DURATION")
    val_every: int = option(250, "Validate (metrics, sample grid) every this many steps.", min=1)
    checkpoint_every: int = option(500, "Save a checkpoint every this many steps.", min=1)
    stop_at: int | None = option(None, "Stop after this step with a checkpoint, as if interrupted (continue with "
                                 "--resume).", min=1)
    seed: int = option(0, "Seed of weights, window sampling, augmentation and dropout.")
    colour_jitter: float = option(0.0, "Photometric jitter of the imagery where it is the generator's input "
                                  "(sat2map, inpaint; never the map, nor map2sat's imagery, which is the target), "
                                  "for training on one city or sensor and translating another: strength S scales "
                                  "brightness +-0.2S, contrast and saturation x[1-0.3S, 1+0.3S], gamma 2**(+-0.4S) "
                                  "of the band's range (0: off; 1: a typical choice).", min=0, max=3)
    blur_noise: float = option(0.0, "Probability that a training window's imagery is blurred (Gaussian, sigma "
                               "0.3-1 pixel), and, drawn apart, that it gets Gaussian noise (sigma up to 3% of the "
                               "band's range); same sides as --colour-jitter (0: off).", min=0, max=1)
    scale_jitter: float = option(1.0, "Zoom each training window by a factor log-uniform in [1/S, S] about its "
                                 "centre, imagery, map and masks alike (e.g. 1.25), for cities and sensors of other "
                                 "pixel sizes; zoom-out masks the border it has no pixels for (1: off).", min=1,
                                 max=2)
    device: str = option("auto", "auto, cpu, cuda, cuda:N or mps.")
    amp: bool = option(True, "Float32 everywhere. By default CUDA GPUs and CPUs with native bfloat16 "
                       "(AVX512-BF16, AMX) run the networks in mixed precision.", flag="--no-amp", kind="negated")
    compile: bool = option(False, "torch.compile G and D (worth it on GPUs for long runs; the first steps wait "
                           "for compilation).")
    workers: int = option(-1, "DataLoader worker processes (-1: auto = none on a CPU, up to 8 on a GPU).")
    min_valid: float = option(0.95, "Skip windows with a smaller share of valid (not nodata) pixels.", min=0, max=1)
    val_fraction: float = option(0.2, "Share of spatial blocks held out for validation (0: none).", min=0, max=0.9)
    val_aoi: str | None = option(None, "Polygons (any vector format, any CRS) whose windows form the validation "
                                 "set.", kind="path")
    val_windows: int = option(32, "Score at most this many validation windows.", min=1)
    val_pairs: int = option(0, "Hold out the last N pairs (or aligned images) whole for validation "
                            "[default: 0 for rasters (blocks of every pair), 20% of aligned images].", min=0)
    recipe: str = internal("paper", help="the set of defaults the run started from (--recipe), for the record")
    family_options: dict[str, Any] = internal(help="the model family's own options (see its module)",
                                              default_factory=dict)
    extra: dict[str, Any] = internal(help="free-form notes kept with the run", default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["pairs"] = [asdict(p) for p in self.pairs]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in names}
        extra = dict(d.get("extra") or {})
        if "epochs" in extra and d.get("epochs") is None:  # runs written before epochs was a field
            d["epochs"] = extra.pop("epochs")
            d["extra"] = extra
        d["pairs"] = tuple(
            PairSpec(p["imagery"], p["maps"],
                     tuple(p["imagery_bands"]) if p.get("imagery_bands") else None,
                     tuple(p["map_bands"]) if p.get("map_bands") else None,
                     p.get("resampling"), p.get("aligned"), p.get("map_kind"))
            for p in d.get("pairs", ())
        )
        return cls(**d)

    def with_(self, **changes: Any) -> TrainConfig:
        return replace(self, **changes)

    def lr_at(self, step: int) -> float:
        """Learning rate of (0-based) ``step``: constant, then linear decay to 0 at ``steps``."""
        return self.lr_at_fraction(step / self.steps if self.steps else 1.0)

    def lr_at_fraction(self, done: float) -> float:
        """Learning rate when a fraction ``done`` of training (steps or time budget) is done: a
        linear rise over the first ``warmup`` (so Adam's first, noisiest moment estimates take small
        steps), constant, then a linear decay to 0 from ``decay_start``."""
        if done < self.warmup:
            return self.lr * max(done / self.warmup, 1e-3)
        if done < self.decay_start or self.decay_start >= 1.0:
            return self.lr
        return self.lr * max(0.0, 1.0 - (done - self.decay_start) / (1.0 - self.decay_start))
