"""Running a trained generator on batches of normalised tiles.

:class:`Predictor` is the predict function the mosaicker and the evaluator take: numpy in, numpy
out, the generator in eval mode (BatchNorm running statistics, no dropout) under
``torch.inference_mode``, so the same input always gives the same output.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from geo_pix2pix.device import DevicePlan, plan_device
from geo_pix2pix.modelfile import ModelMeta, load_model, resolve_model_path

__all__ = ["Predictor"]


class Predictor:
    """Load a model file once; call with ``(N, C_in, T, T)`` float32 in [-1, 1]."""

    def __init__(self, model: str | os.PathLike[str], device: str = "auto", amp: bool = True) -> None:
        self.path = resolve_model_path(model)
        self.plan: DevicePlan = plan_device(device, amp, inference=True)
        G, meta = load_model(self.path, self.plan.device)
        if self.plan.channels_last:
            G = G.to(memory_format=torch.channels_last)
        self.G: Any = G
        self.meta: ModelMeta = meta

    @property
    def tile(self) -> int:
        return self.meta.tile_size

    def __call__(self, tiles: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(tiles, dtype=np.float32))
        if self.plan.device.type == "cuda":
            x = x.pin_memory()  # page-locked: the copy to the GPU runs without a staging copy
        x = x.to(self.plan.device, non_blocking=True)
        if self.plan.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        amp = self.plan.autocast()
        with torch.inference_mode():
            if amp is None:
                y = self.G(x)
            else:
                with amp():
                    y = self.G(x)
        return y.float().cpu().numpy()
