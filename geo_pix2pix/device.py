"""Device choice and mixed precision.

``auto`` picks CUDA, then Apple MPS, then the CPU. On CUDA the networks run in channels_last
with bf16 autocast where the GPU supports it (no loss scaling needed), else float16 autocast
with a gradient scaler; cuDNN autotuning is on. The CPU runs float32: CPU autocast (bf16) is
slower than float32 on most CPUs and changes results.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial

import torch

from geo_pix2pix.tiles.errors import GeopixError

__all__ = ["DevicePlan", "plan_device"]


@dataclass(frozen=True)
class DevicePlan:
    """How to run on a device: where, in which precision and memory layout."""

    device: torch.device
    amp_dtype: torch.dtype | None
    channels_last: bool

    @property
    def needs_scaler(self) -> bool:
        return self.amp_dtype == torch.float16

    def autocast(self) -> Callable[[], AbstractContextManager[object]] | None:
        if self.amp_dtype is None:
            return None
        return partial(torch.autocast, device_type=self.device.type, dtype=self.amp_dtype)

    def describe(self) -> str:
        prec = "float32" if self.amp_dtype is None else f"{str(self.amp_dtype).removeprefix('torch.')} autocast"
        return f"{self.device} ({prec}{', channels_last' if self.channels_last else ''})"


def plan_device(name: str = "auto", amp: bool = True) -> DevicePlan:
    """Resolve ``auto|cpu|cuda|cuda:N|mps`` to a :class:`DevicePlan`.

    Raises:
        GeopixError: if the requested device is not available.
    """
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise GeopixError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise GeopixError("CUDA was requested but no CUDA GPU is available; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise GeopixError(f"{name} does not exist: {torch.cuda.device_count()} CUDA device(s)")
        torch.backends.cudnn.benchmark = True
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return DevicePlan(device, dtype if amp else None, True)
    if device.type == "mps":
        if not torch.backends.mps.is_available():
            raise GeopixError("MPS was requested but is not available; use --device cpu")
        return DevicePlan(device, None, False)
    if device.type != "cpu":
        raise GeopixError(f"unsupported device {name!r}; use auto, cpu, cuda, cuda:N or mps")
    return DevicePlan(device, None, False)
