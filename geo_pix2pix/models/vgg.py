"""The VGG19 perceptual loss of Pix2PixHD (Wang et al. 2018, eq. 4), from a local weights file.

Generated and real tiles are both passed through an ImageNet-trained VGG19 and compared, with
L1, at the outputs of relu1_1, relu2_1, relu3_1, relu4_1 and relu5_1 (torchvision's ``features``
indices 1, 6, 11, 20 and 29), weighted 1/32, 1/16, 1/8, 1/4 and 1 as in the reference
implementation: the deep, coarse layers, which see texture and structure rather than pixel
values, weigh most. The network only makes sense for RGB in ImageNet's colour statistics, so the
inputs, in [-1, 1], are mapped to [0, 1] and normalised with ImageNet's mean and standard
deviation; a model with another number of output bands cannot use this loss.

The weights come from a file the user names (``--vgg-weights``), never from the network: a
torchvision state dict (``.pth``/``.pt``, read with ``weights_only=True``, so no pickled code
runs) or the same tensors as ``.safetensors``, either for the whole model (``features.N.*``; the
classifier is ignored) or for ``features`` alone (``N.*``). The network is frozen and in eval
mode; the loss is computed in float32 even under autocast, so that it does not depend on the
precision the rest of the step runs in.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from geo_pix2pix.tiles.errors import GeopixError, first_line

__all__ = ["LAYER_WEIGHTS", "VGGLoss", "VGGWeightsError", "check_vgg_weights", "load_vgg19_features"]

SLICES = ((0, 2), (2, 7), (7, 12), (12, 21), (21, 30))  # features up to relu1_1, relu2_1, ..., relu5_1
LAYER_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGGWeightsError(GeopixError, ValueError):
    """Raised when the VGG19 weights file is missing, unreadable, or not torchvision's VGG19."""


def _read_state(path: Path) -> Mapping[str, object]:
    suffix = path.suffix.lower()
    if suffix not in (".safetensors", ".pth", ".pt"):
        raise VGGWeightsError(f"--vgg-weights {path}: expected a .safetensors, .pth or .pt file")
    try:
        if suffix == ".safetensors":
            from safetensors.torch import load_file

            state: object = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # every reader fails differently on a corrupt file; all mean the same here
        raise VGGWeightsError(f"--vgg-weights {path}: cannot be read as a state dict ({first_line(exc)})") from exc
    if not isinstance(state, Mapping) or not all(isinstance(k, str) for k in state):
        raise VGGWeightsError(f"--vgg-weights {path}: holds a {type(state).__name__}, not a state dict of tensors")
    return state


def _features_state(state: Mapping[str, object]) -> dict[str, torch.Tensor]:
    """The ``features`` part of a full-model or features-only state dict, keys without prefix."""
    if any(k.startswith("features.") for k in state):
        return {k[len("features."):]: v for k, v in state.items()  # type: ignore[misc]
                if k.startswith("features.")}
    return dict(state)  # type: ignore[arg-type]


def load_vgg19_features(path: str | Path) -> nn.Module:
    """torchvision's ``vgg19().features`` with weights from the local file ``path``, frozen, in eval mode."""
    from torchvision.models import vgg19

    path = Path(path)
    if not path.exists():
        raise VGGWeightsError(f"--vgg-weights {path}: no such file (give a local torchvision VGG19 state dict)")
    if not path.is_file():
        raise VGGWeightsError(f"--vgg-weights {path}: is a directory, not a weights file")
    state = _features_state(_read_state(path))
    with torch.device("meta"):  # no 140M-parameter random init only to overwrite it
        features: nn.Module = vgg19(weights=None).features
    features = features.to_empty(device="cpu")
    expected = features.state_dict()
    layout = f"--vgg-weights {path} is not a VGG19 state dict in torchvision's layout"
    for key, ref in expected.items():
        value = state.get(key)
        if value is None:
            hint = " (batch-norm VGG19 is not supported)" if any("running_mean" in k for k in state) else ""
            raise VGGWeightsError(f"{layout}: missing features.{key}{hint}")
        if not isinstance(value, torch.Tensor):
            raise VGGWeightsError(f"{layout}: features.{key} is a {type(value).__name__}, not a tensor")
        if value.shape != ref.shape:
            raise VGGWeightsError(f"{layout}: features.{key} has shape {tuple(value.shape)}, "
                                  f"expected {tuple(ref.shape)}")
    extra = sorted(set(state) - set(expected))
    if extra:
        raise VGGWeightsError(f"{layout}: unexpected features.{extra[0]}")
    features.load_state_dict(state)
    features.requires_grad_(False)
    return features.eval()


def check_vgg_weights(path: str | Path) -> None:
    """Refuse a bad ``--vgg-weights`` file before training starts (reads it once, on the CPU)."""
    load_vgg19_features(path)


class VGGLoss(nn.Module):
    """``sum_k w_k * L1(phi_k(fake), phi_k(real))`` over the five VGG19 relu*_1 outputs ``phi_k``."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, features: nn.Module) -> None:
        super().__init__()
        layers = list(features.children())
        self.slices = nn.ModuleList(nn.Sequential(*layers[a:b]) for a, b in SLICES)
        self.slices.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        return ((x.float() + 1) / 2 - self.mean) / self.std  # [-1, 1] -> ImageNet-normalised RGB

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for block in self.slices:
            x = block(x)
            out.append(x)
        return out

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        if fake.dim() != 4 or fake.shape[1] != 3:
            bands = fake.shape[1] if fake.dim() == 4 else "non-image"
            raise GeopixError(f"the VGG perceptual loss needs 3-band (RGB) output; this model outputs {bands} bands")
        if real.shape != fake.shape:
            raise GeopixError(f"the VGG perceptual loss compares tiles of one shape, got {tuple(fake.shape)} "
                              f"and {tuple(real.shape)}")
        with torch.autocast(fake.device.type, enabled=False):
            with torch.no_grad():
                targets = self._features(self._normalise(real))
            outputs = self._features(self._normalise(fake))
            loss = fake.new_zeros((), dtype=torch.float32)
            for w, f, t in zip(LAYER_WEIGHTS, outputs, targets, strict=True):
                loss = loss + w * F.l1_loss(f, t)
        return loss
