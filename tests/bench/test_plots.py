"""bench/plots.py draws the docs' benchmark plots from bench/figures.json, and every figure there is
one that bench/README.md records (so a plot cannot show a number the record does not have)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.bench import bench_script
from tests.conftest import REPO

FIGURES = REPO / "bench" / "figures.json"


def _numbers(node: Any, key: str = "") -> list[tuple[str, float]]:
    """Every measured number of figures.json, with where it sits (settings such as batch sizes,
    tile sizes and the minutes-per-step scale are not measurements and are left out)."""
    settings = {"batches", "tiles", "tiles_run", "steps", "columns", "rows", "minutes_per_step", "minutes", "seed"}
    if isinstance(node, dict):
        return [n for k, v in node.items() if k not in settings and not k.startswith("_")
                for n in _numbers(v, f"{key}.{k}")]
    if isinstance(node, list):
        return [n for v in node for n in _numbers(v, key)]
    if isinstance(node, (int, float)) and not isinstance(node, bool):
        return [(key, float(node))]
    return []


def test_every_plotted_figure_is_recorded_in_bench_readme() -> None:
    record = (REPO / "bench" / "README.md").read_text()
    recorded = {float(x) for x in re.findall(r"(?<![\d.])\d+(?:\.\d+)?(?![\d.])", record)}
    numbers = _numbers(json.loads(FIGURES.read_text()))
    assert len(numbers) > 30
    missing = [f"{where}={value:g}" for where, value in numbers if value not in recorded]
    assert not missing, f"bench/figures.json has figures bench/README.md does not record: {missing}"


def test_plots_are_drawn_from_the_figures(tmp_path: Path) -> None:
    written = bench_script("plots").main(["--out", str(tmp_path)])
    assert sorted(p.name for p in written) == ["bench_memory.svg", "bench_quality_vs_time.svg", "bench_throughput.svg"]
    for path in written:
        assert path.read_text().lstrip().startswith("<?xml") and "<svg" in path.read_text()
