"""The benchmark plots of the docs, drawn from the figures recorded in bench/figures.json.

Nothing is measured here: every point is a figure of bench/README.md, copied into figures.json
with its date, machine and command, so a plot can be redrawn (and checked against the README) at
any time. Run from the repository root:

    .venv/bin/python bench/plots.py                 # writes docs/images/bench_*.svg
    .venv/bin/python bench/plots.py --out some/dir
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
# SVG element ids are random unless salted: with a fixed salt a redraw of unchanged figures
# writes the same bytes, so a diff of docs/images shows only plots whose figures changed.
matplotlib.rcParams["svg.hashsalt"] = "geopix"
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent
FIGURES = HERE / "figures.json"
OUT = HERE.parent / "docs" / "images"


def _source(ax: Any, fig: dict[str, Any], below: float = 34) -> None:
    """The figure's provenance ``below`` points under the plot, small: date, machine, command."""
    ax.annotate(f"{fig['date']}, {fig['machine']}\n{fig['command']}", (0, 0), (0, -below),
                xycoords="axes fraction", textcoords="offset points", va="top", fontsize=6.5, color="#555555")


def quality_vs_time(fig: dict[str, Any], out: Path) -> Path:
    """Held-out road IoU and mIoU (classes with >= 1% of the pixels) of each default against its
    training budget: one run per budget, since the learning rate decays over the budget. A run of
    another seed (``other_seed``) is drawn as a hollow marker of its series' colour at its budget."""
    f, (a, b) = plt.subplots(1, 2, figsize=(9, 5.2), sharex=True)
    other = fig.get("other_seed", {})
    for (name, run), marker in zip(fig["series"].items(), "os^v", strict=False):
        for ax, key in ((a, "road_iou"), (b, "miou_common")):
            (line,) = ax.plot(fig["minutes"], run[key], marker + "-", label=name)
            if name in other:
                ax.plot([other["minutes"]], [other[name][key]], marker, mfc="none", color=line.get_color(),
                        label=f"{name}, seed {other['seed']}" if ax is a else None)
    for ax, what in ((a, "road IoU"), (b, f"mIoU ({fig['common_classes']})")):
        ax.set_xlabel("minutes of training (one run per budget)", fontsize=8)
        ax.set_ylabel(what, fontsize=8)
        ax.set_xticks(fig["minutes"])
        ax.set_ylim(0, 0.7)
        ax.grid(alpha=0.3)
    # under both panels: inside either it would hide the first minute's points
    a.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.13), ncol=2, frameon=False)
    f.suptitle(fig["title"], fontsize=9)
    _source(a, fig, below=96)
    return _save(f, out / "bench_quality_vs_time.svg")


def throughput(batch: dict[str, Any], tile: dict[str, Any], out: Path) -> Path:
    f, (a, b) = plt.subplots(1, 2, figsize=(9, 4.2))
    for name, values in batch["gflops"].items():
        a.plot(batch["batches"], values, "o-", label=name)
    a.set_xscale("log", base=2)
    a.set_xticks(batch["batches"], [str(x) for x in batch["batches"]])
    a.set_xlabel("batch (tiles per forward pass)")
    a.set_ylabel("achieved GFLOP/s")
    a.set_title("generator throughput against batch\n(paper U-Net, 256 tiles)", fontsize=9)
    a.grid(alpha=0.3)
    a.legend(fontsize=7)
    _source(a, batch)
    x = range(len(tile["tiles"]))
    b.bar([i - 0.2 for i in x], tile["end_to_end_s"], 0.4, label="translate, end to end")
    b.bar([i + 0.2 for i in x], tile["generator_alone_s"], 0.4, label="generator alone, same tiles")
    b.set_xticks(list(x), [f"{t} px ({n} tiles)" for t, n in zip(tile["tiles"], tile["tiles_run"], strict=True)])
    b.set_xlabel("translate tile size (2048 x 2048 raster)")
    b.set_ylabel("seconds")
    b.set_title("translate time against tile size\n(CPU-recipe model trained on 64-px tiles)", fontsize=9)
    b.legend(fontsize=7)
    b.grid(alpha=0.3, axis="y")
    _source(b, tile)
    return _save(f, out / "bench_throughput.svg")


def memory(fig: dict[str, Any], out: Path) -> Path:
    f, ax = plt.subplots(figsize=(7, 4.2))
    w, h = fig["by_width"], fig["by_height"]
    ax.plot([c * w["rows"] / 1e6 for c in w["columns"]], w["peak_rss_mib"], "o-",
            label=f"wider: {w['rows']} rows x 2048 ... 131072 columns")
    ax.plot([r * h["columns"] / 1e6 for r in h["rows"]], h["peak_rss_mib"], "s-",
            label=f"taller: {h['columns']} columns x 1024 ... 16384 rows")
    ax.set_xscale("log")
    ax.set_xlabel("raster size (megapixels)")
    ax.set_ylabel("peak RSS (MiB)")
    ax.set_ylim(0, max(w["peak_rss_mib"]) * 1.1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(fig["title"] + ": memory follows the width, not the height", fontsize=9)
    _source(ax, fig)
    return _save(f, out / "bench_memory.svg")


def _save(f: Any, path: Path) -> Path:
    f.savefig(path, bbox_inches="tight", metadata={"Date": None})  # no date: the file changes only with the figures
    plt.close(f)
    return path


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--figures", type=Path, default=FIGURES)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    figs = json.loads(args.figures.read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    written = [quality_vs_time(figs["quality_vs_time"], args.out),
               throughput(figs["throughput_vs_batch"], figs["throughput_vs_tile"], args.out),
               memory(figs["memory_vs_size"], args.out)]
    for path in written:
        print("wrote", path)
    return written


if __name__ == "__main__":
    main()
