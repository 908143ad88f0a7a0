"""Preview a model on held-out pix2pix-style A|B images, through the geopix Python API.

For each image (satellite on the left half, map on the right), the satellite half goes through
``Model.predict`` (tiled and blended exactly as ``geopix translate`` would), and one row
``satellite | geopix | map`` is added to a PNG.

    .venv/bin/python examples/heldout_preview.py MODEL OUT.png IMAGE.png [IMAGE.png ...]
"""

from __future__ import annotations

import sys

import numpy as np
from PIL import Image

import geo_pix2pix as geopix


def main(model_path: str, out: str, images: list[str]) -> None:
    model = geopix.load_model(model_path)
    rows = []
    for path in images:
        ab = np.asarray(Image.open(path).convert("RGB"))
        half = ab.shape[1] // 2
        sat, ref = ab[:, :half], ab[:, half:]
        pred = model.predict(np.transpose(sat, (2, 0, 1)))  # (bands, rows, cols) uint8 in, the map out
        gap = np.full((sat.shape[0], 4, 3), 255, np.uint8)
        rows.append(np.concatenate([sat, gap, np.transpose(pred.filled(255), (1, 2, 0)), gap, ref], axis=1))
    sep = np.full((4, rows[0].shape[1], 3), 255, np.uint8)
    Image.fromarray(np.concatenate([r for row in rows for r in (row, sep)][:-1])).save(out)
    print(f"wrote {out}: {len(rows)} held-out images, satellite | geopix | map")


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
