"""The run directory: metrics CSV, sample grids, loss curves, ``config.json``, ``latest`` link.

Every file is written atomically. ``metrics.csv`` gets one row per step; on resume, rows after
the checkpoint's step (written before a crash) are dropped, so no step is duplicated or missing.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from geo_pix2pix.tiles.atomic import atomic_path

__all__ = ["METRIC_FIELDS", "MetricsLog", "metric_fields", "write_json", "save_sample_grid", "plot_losses",
           "link_latest", "to_rgb8"]

METRIC_FIELDS = ["step", "lr", "D_real", "D_fake", "G_GAN", "G_L1", "G_feat", "G_VGG", "G_CE", "G_KL",
                 "val_L1", "val_PSNR", "val_SSIM", "val_pixel_accuracy"]


def metric_fields(losses: Sequence[str] = ()) -> list[str]:
    """The columns of ``metrics.csv``: :data:`METRIC_FIELDS`, with any loss term a family adds of its
    own (not among them) before the validation metrics, so a new family's terms are logged too."""
    own = [n for n in losses if n not in METRIC_FIELDS]
    i = METRIC_FIELDS.index("val_L1")
    return [*METRIC_FIELDS[:i], *own, *METRIC_FIELDS[i:]]


def write_json(path: Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")


class MetricsLog:
    """Append-only ``metrics.csv``; ``truncate_after(step)`` prepares it for a resume.

    Each row reaches the file when it is written (line buffering), so a user tailing the file, or
    a test waiting for training to be under way, sees every step as it ends rather than in bursts
    of a buffer's worth; :meth:`flush` adds the fsync that makes the rows durable at a checkpoint.
    ``losses``: the loss terms the run reports (:func:`metric_fields`).
    """

    def __init__(self, path: Path, losses: Sequence[str] = ()) -> None:
        self.path = path
        self.fields = metric_fields(losses)
        if not path.exists():
            with atomic_path(path) as tmp:
                tmp.write_text(",".join(self.fields) + "\n")
        self._open()

    def _open(self) -> None:
        # buffering=1: line buffered, a row is handed to the OS as soon as its line ends
        self._fh = open(self.path, "a", newline="", buffering=1)  # noqa: SIM115 (closed in close())
        self._w = csv.DictWriter(self._fh, self.fields)

    def truncate_after(self, step: int) -> None:
        """Drop rows with a step greater than ``step`` (written after the last checkpoint)."""
        self._fh.close()
        with open(self.path, newline="") as f:
            # a kill -9 can leave the last row torn (a prefix such as "1" of "12,0.0002,..."): a row
            # missing fields is such a tail, never a row a checkpoint covered
            rows = [r for r in csv.DictReader(f)
                    if r.get("step") and None not in r.values() and int(r["step"]) <= step]
        with atomic_path(self.path) as tmp, open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, self.fields)
            w.writeheader()
            w.writerows(rows)
        self._open()

    def write(self, row: dict[str, Any]) -> None:
        self._w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})

    def flush(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()

    def rows(self) -> list[dict[str, str]]:
        self._fh.flush()
        with open(self.path, newline="") as f:
            return list(csv.DictReader(f))


def to_rgb8(x: np.ndarray) -> np.ndarray:
    """``(C, H, W)`` in [-1, 1] -> ``(H, W, 3)`` uint8 for previews (1 band: grey; >3: first 3)."""
    x = ((np.clip(x, -1, 1) + 1) * 127.5).round().astype(np.uint8)
    if x.shape[0] >= 3:
        x = x[:3]
    elif x.shape[0] == 2:
        x = np.concatenate([x, x[:1]])
    else:
        x = np.repeat(x, 3, axis=0)
    return np.transpose(x, (1, 2, 0))


def save_sample_grid(path: Path, inputs: np.ndarray, fakes: np.ndarray, targets: np.ndarray,
                     paint: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
    """One row per window: input | generated | target (``(N, C, H, W)`` arrays in [-1, 1]).

    ``paint``: ``(C, H, W)`` -> ``(3, H, W)`` uint8 for outputs that are not pictures (class scores
    drawn in their classes' colours)."""
    from PIL import Image

    def out_rgb(x: np.ndarray) -> np.ndarray:
        return np.transpose(paint(x), (1, 2, 0)) if paint is not None else to_rgb8(x)

    rows = [np.concatenate([to_rgb8(a), out_rgb(f), out_rgb(t)], axis=1)
            for a, f, t in zip(inputs, fakes, targets, strict=True)]
    grid = np.concatenate(rows, axis=0)
    with atomic_path(path) as tmp:
        Image.fromarray(grid).save(tmp, format="PNG")


def plot_losses(rows: list[dict[str, str]], path: Path) -> None:
    """Loss curves (D, G_GAN, G_L1 and validation L1) from metrics rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not rows:
        return
    steps = np.array([int(r["step"]) for r in rows])

    def col(name: str) -> np.ndarray:
        return np.array([float(r[name]) if r.get(name) else np.nan for r in rows])

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    axes[0].plot(steps, 0.5 * (col("D_real") + col("D_fake")), label="D", lw=0.8)
    axes[0].plot(steps, col("G_GAN"), label="G_GAN", lw=0.8)
    for term in ("G_feat", "G_VGG"):  # families that train with them (Pix2PixHD)
        if np.isfinite(col(term)).any():
            axes[0].plot(steps, col(term), label=term, lw=0.8)
    axes[0].set_xlabel("step")
    axes[0].legend()
    axes[0].set_title("adversarial losses")
    axes[1].plot(steps, col("G_L1"), label="train L1", lw=0.8)
    v = col("val_L1")
    if np.isfinite(v).any():
        axes[1].plot(steps[np.isfinite(v)], v[np.isfinite(v)], "o-", label="val L1")
    axes[1].set_xlabel("step")
    axes[1].legend()
    axes[1].set_title("L1 (in [-1, 1] units: train; [0, 1]: val)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)


def link_latest(run_dir: Path) -> None:
    """Point ``<parent>/latest`` at ``run_dir`` (a relative symlink, replaced atomically)."""
    link = run_dir.parent / "latest"
    tmp = run_dir.parent / f".latest.{os.getpid()}"
    try:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        tmp.symlink_to(run_dir.name, target_is_directory=True)
        os.replace(tmp, link)
    except OSError:
        if tmp.is_symlink():
            tmp.unlink()
