"""Draw the data flow of docs/contributing/architecture.md: rasters -> tiles -> the network -> rasters.

An image rather than mermaid: Material loads mermaid.js from a CDN when a page is viewed, and the
site must work offline. Run from the repository root with geopix's environment (matplotlib):

    .venv/bin/python docs/scripts/architecture_diagram.py docs/images/dataflow.svg
"""

from __future__ import annotations

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

# (x, y, label, colour): x, y the box centre in axis units; colours by room
TILES, MODEL, FILES, IO = "#dbe9f6", "#fde2c8", "#e4f2d7", "#eeeeee"
BOXES = {
    "rasters": (1.0, 3.0, "imagery + map\nrasters (GDAL)", IO),
    "pairs": (3.2, 3.0, "tiles.pairs\nalign map onto imagery grid,\nmasks, split, sample windows", TILES),
    "encoding": (5.6, 3.0, "tiles.encoding\nnormalise to [-1, 1],\nclasses, layouts", TILES),
    "training": (8.0, 3.0, "training + families + models\nGAN step (D then G),\nloss terms, validation", MODEL),
    "files": (10.4, 3.0, "files\nmodel.safetensors,\ncheckpoint.pt, run dir", FILES),
    "region": (1.0, 1.0, "region raster\n(or vector layout)", IO),
    "mosaic": (3.2, 1.0, "tiles.mosaic\ngrid, reflection padding,\nread tiles by rows", TILES),
    "predict": (5.6, 1.0, "inference.predict\nnormalise, G in eval mode,\nAMP, TTA, denormalise", MODEL),
    "blend": (8.0, 1.0, "tiles.mosaic (pipeline)\nraised-cosine blending,\nstream rows, overviews", TILES),
    "cog": (10.4, 1.0, "COG on the region's grid\n(or a shard's part\n-> geopix merge)", IO),
}
ARROWS = [("rasters", "pairs"), ("pairs", "encoding"), ("encoding", "training"), ("training", "files"),
          ("region", "mosaic"), ("mosaic", "predict"), ("predict", "blend"), ("blend", "cog"),
          ("files", "predict")]
W, H = 2.05, 1.15


def main(out: str) -> None:
    fig, ax = plt.subplots(figsize=(12.5, 4.4))
    ax.set_xlim(-0.1, 11.5)
    ax.set_ylim(0.15, 3.95)
    ax.axis("off")
    for x, y, label, colour in BOXES.values():
        ax.add_patch(FancyBboxPatch((x - W / 2, y - H / 2), W, H, boxstyle="round,pad=0.03", fc=colour, ec="#555555"))
        ax.text(x, y, label, ha="center", va="center", fontsize=8)
    for a, b in ARROWS:
        (xa, ya, *_), (xb, yb, *_) = BOXES[a], BOXES[b]
        if ya == yb:
            start, end = (xa + W / 2, ya), (xb - W / 2, yb)
        else:  # the model file feeds inference: down and left
            start, end = (xa - 0.3, ya - H / 2), (xb + 0.4, yb + H / 2)
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14, color="#333333",
                                     connectionstyle="arc3,rad=0.0"))
    ax.text(0.0, 3.75, "training: geopix train / geopix.fit", fontsize=10, weight="bold")
    ax.text(0.0, 1.75, "inference: geopix translate / inpaint / Model.translate", fontsize=10, weight="bold")
    for x, label, colour in ((6.6, "tiles (no torch)", TILES), (8.4, "geo_pix2pix (torch)", MODEL),
                             (10.2, "files / data", FILES)):
        ax.add_patch(FancyBboxPatch((x, 3.68), 0.25, 0.16, boxstyle="square,pad=0", fc=colour, ec="#555555"))
        ax.text(x + 0.35, 3.76, label, fontsize=8.5, va="center")
    fig.savefig(out, bbox_inches="tight")
    print("wrote", out)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/images/dataflow.svg")
