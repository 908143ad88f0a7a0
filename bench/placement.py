"""Where a model's roads go wrong on the 8 held-out maps256 images (issue 33): a pixel or two off,
or not drawn at all.

For runs kept by ``bench/learning.py --keep`` (the raw generator, as the rounds report), per
held-out image and pooled over the eight:

- road IoU as ``bench/learning.py`` scores it, and the best road IoU over moving the prediction by
  up to ``--moves`` pixels in each axis, with the move that gave it. A consistent move would be a
  model drawing its roads off; moves that differ from image to image are the imagery and its map
  disagreeing, image by image, which no model can learn;
- relaxed road precision and recall with a slack of ``rho`` pixels, the measure Mnih and Hinton
  (2010) introduced for roads traced from aerial imagery because the maps are misregistered by a
  few pixels: the share of predicted road pixels within ``rho`` of a reference road pixel, and of
  reference road pixels within ``rho`` of a predicted one. With ``rho`` 0 they are plain precision
  and recall.

``bench/learning.py --shifted K`` gives the other side: what a perfect map scores moved K pixels.

    .venv/bin/python bench/placement.py /tmp/keep/s43/control-0-20 --moves 2 --slack 0 1 2
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from learning import BEIGE, Scene, predicted_classes, raw_generator, scenes
from scipy.ndimage import distance_transform_edt

from geo_pix2pix.inference.predict import Predictor

ROADS = BEIGE.classes.index("roads")


def moved_iou(pred: np.ndarray, ref: np.ndarray, move: tuple[int, int], border: int) -> tuple[int, int]:
    """Intersection and union of road masks ``pred`` moved by ``move`` (rows, columns) and ``ref``,
    leaving out a ``border`` wide enough for every move compared, so all see the same pixels."""
    inner = (slice(border, -border or None),) * 2
    p, r = np.roll(pred, move, axis=(0, 1))[inner], ref[inner]
    return int((p & r).sum()), int((p | r).sum())


def best_move(pred: np.ndarray, ref: np.ndarray, moves: int) -> tuple[float, float, tuple[int, int]]:
    """Road IoU unmoved, and the best over every move of up to ``moves`` pixels per axis, with that move."""
    results = {(dy, dx): moved_iou(pred, ref, (dy, dx), moves)
               for dy in range(-moves, moves + 1) for dx in range(-moves, moves + 1)}
    iou = {m: i / u if u else float("nan") for m, (i, u) in results.items()}
    best = max(iou, key=lambda m: (iou[m], -abs(m[0]) - abs(m[1])))
    return iou[0, 0], iou[best], best


def relaxed(pred: np.ndarray, ref: np.ndarray, rho: float) -> tuple[int, int, int, int]:
    """Predicted road pixels within ``rho`` of a reference road and how many were predicted;
    reference road pixels within ``rho`` of a predicted road and how many there are (Euclidean
    distance; an image without the other's roads is everywhere out of reach)."""
    def near(mask: np.ndarray) -> np.ndarray:
        return distance_transform_edt(~mask) <= rho if mask.any() else np.zeros_like(mask)

    return int((pred & near(ref)).sum()), int(pred.sum()), int((ref & near(pred)).sum()), int(ref.sum())


def raw_predictor(run: Path) -> Predictor:
    """The run's model file with the generator as trained (not its average, if it kept one)."""
    pred = Predictor(str(run), "cpu")
    if json.loads((run / "config.json").read_text()).get("ema_decay"):
        pred.G.load_state_dict(raw_generator(run))
    return pred


def report(run: Path, scene: Scene, refs: list[np.ndarray], moves: int, slacks: list[float]) -> None:
    """Print ``run``'s placement figures on ``scene``, whose reference road masks are ``refs``."""
    preds = [p == ROADS for p in predicted_classes(raw_predictor(run), scene)]
    print(f"{run.name}: road IoU, best over moves of up to {moves} px (the move: rows, columns), "
          f"relaxed precision / recall at slack {', '.join(f'{s:g}' for s in slacks)} px")
    totals = np.zeros((len(slacks), 4), np.int64)
    for i, (p, r) in enumerate(zip(preds, refs, strict=True)):
        iou, best, move = best_move(p, r, moves)
        counts = np.array([relaxed(p, r, s) for s in slacks])
        totals += counts
        pr = "  ".join(f"{a / max(b, 1):.2f} / {c / max(d, 1):.2f}" for a, b, c, d in counts)
        print(f"  image {i}: roads {r.mean():5.1%}  IoU {iou:.3f}  best {best:.3f} at {move}  {pr}")
    pr = "  ".join(f"{a / max(b, 1):.3f} / {c / max(d, 1):.3f}" for a, b, c, d in totals)
    print(f"  pooled: relaxed precision / recall {pr}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", type=Path, nargs="+", help="runs kept by bench/learning.py --keep")
    ap.add_argument("--moves", type=int, default=2, help="largest move per axis, pixels")
    ap.add_argument("--slack", type=float, nargs="+", default=[0, 1, 2], help="relaxed measures' slacks, pixels")
    a = ap.parse_args(argv)
    scene = scenes(False)[0]  # read and classified once for every run
    refs = [scene.ref_palette.classify(r) == ROADS for r in scene.ref]
    for run in a.runs:
        report(run, scene, refs, a.moves, a.slack)


if __name__ == "__main__":
    main()
