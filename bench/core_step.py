"""Today's GAN step against an earlier revision's, in the same run: step time and first-step parity.

The earlier revision (default ``554d5e0``, the last ``gan_step`` that hard-coded every family's
terms) is extracted from git into a temporary package ``geo_pix2pix_base`` and imported beside
today's ``geo_pix2pix``. Both build the same networks from the same seed and run the same
pre-made batches, round by round interleaved so machine noise hits both alike:

- ``pix2pix``: the CPU recipe's step (U-Net ngf 32 on 64-px tiles, PatchGAN ndf 32, batch 16,
  L1 400 with edge weight 4);
- ``spade``: SPADE's CPU recipe networks with a style encoder (ngf 16, 32 hidden channels, 4
  upsamplings, style vector 64, two spectral-norm PatchGANs of ndf 32, hinge loss, feature
  matching 10, L1 10, KL 0.05; today's objective from the family's own draw and terms) on 64-px
  tiles in batches of 4, a quarter of the recipe's pixels so that it stays cheap.

Before timing, one step of each from the same weights and RNG state must give the same losses
and the same weights, bit for bit. ``--ops`` compares instead the aten operations one step of each
dispatches, a measure of the work that no load disturbs. Otherwise prints the median step times,
by the wall clock and by this process's CPU time, and today / before (>= 1 means no slower): of
the medians, the median of each round's ratio, and of the fastest rounds (on a loaded machine the
least disturbed).

    .venv/bin/python bench/core_step.py [--steps 10] [--rounds 5] [--no-amp] [--base 554d5e0]
                                        [--only pix2pix,spade] [--ops]
"""

from __future__ import annotations

import argparse
import copy
import importlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]


def extract_base(rev: str, into: Path) -> None:
    """``geo_pix2pix`` and ``tiles`` of ``rev`` as the package ``geo_pix2pix_base`` under ``into``."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "geo_pix2pix", "tiles"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    pkg = into / "geo_pix2pix_base"
    (into / "geo_pix2pix").rename(pkg)
    (into / "tiles").rename(pkg / "tiles")
    for f in pkg.rglob("*.py"):
        f.write_text(f.read_text().replace("geo_pix2pix.", "geo_pix2pix_base.").replace(
            "from geo_pix2pix ", "from geo_pix2pix_base "))


def _old(name: str) -> ModuleType:
    return importlib.import_module(f"geo_pix2pix_base.{name}")


#: What a scenario builds for one tree: (networks, optimisers, batch, the step's weights or objective).
Built = tuple[Any, Any, Any, Any]


def pix2pix(old: bool, plan: Any) -> Built:
    """The Pix2Pix CPU recipe's step."""
    tile, n = 64, 16
    models = _old("models") if old else importlib.import_module("geo_pix2pix.models")
    step = _old("step") if old else importlib.import_module("geo_pix2pix.training.step")
    obj = step if old else importlib.import_module("geo_pix2pix.training.objective")
    torch.manual_seed(0)
    G = step.place(models.build_generator(models.GeneratorConfig(tile=tile, ngf=32)), plan)
    D = step.place(models.build_discriminator(models.DiscriminatorConfig(in_channels=6, ndf=32)), plan)
    nets, opts = obj.Networks(G, D), step.make_optimisers(G, D, plan, 1e-3, (0.5, 0.999))
    rng = torch.Generator().manual_seed(1)
    A = torch.rand(n, 3, tile, tile, generator=rng) * 2 - 1
    B = (torch.rand(n, 3, tile, tile, generator=rng) > 0.5).float() * 2 - 1
    batch = obj.Batch(A, B, torch.ones(n, 1, tile, tile, dtype=torch.bool))
    w = obj.LossWeights(l1=400.0, edge=4.0)
    return nets, opts, batch, w if old else obj.Objective(w)


def spade(old: bool, plan: Any) -> Built:
    """SPADE's CPU recipe networks with a style encoder, 64-px tiles (today: the family's draw and terms)."""
    tile, n, classes = 64, 4, 2
    models = _old("models") if old else importlib.import_module("geo_pix2pix.models")
    spade_models = _old("models.spade") if old else importlib.import_module("geo_pix2pix.models.spade")
    step = _old("step") if old else importlib.import_module("geo_pix2pix.training.step")
    obj = step if old else importlib.import_module("geo_pix2pix.training.objective")
    torch.manual_seed(0)
    G = step.place(spade_models.SPADEGenerator(classes, 3, ngf=16, n_up=4, hidden=32, style_dim=64), plan)
    D = step.place(models.build_discriminator(models.DiscriminatorConfig(in_channels=classes + 3, ndf=32,
                                                                         norm="spectral", num_d=2)), plan)
    opts = step.make_optimisers(G, D, plan, 4e-4, (0.0, 0.999), 4.0)
    rng = torch.Generator().manual_seed(1)
    layout = torch.nn.functional.one_hot((torch.rand(n, tile, tile, generator=rng) > 0.7).long(), classes)
    A = layout.permute(0, 3, 1, 2).float() * 2 - 1
    B = torch.rand(n, 3, tile, tile, generator=rng) * 2 - 1
    batch = obj.Batch(A, B, torch.ones(n, 1, tile, tile, dtype=torch.bool))
    if old:
        return (obj.Networks(G, D, encoder=G.encoder), opts, batch,
                obj.LossWeights(gan_loss="hinge", l1=10.0, feat=10.0, kl=0.05))
    from geo_pix2pix.families.base import get_family
    from geo_pix2pix.tiles.encoding.normalize import BandStats
    from geo_pix2pix.training.config import TrainConfig

    family = get_family("spade")
    fopts = family.parse_options({"n_up": 4, "spade_hidden": 32, "style_encoder": True, "style_dim": 64})
    cfg = TrainConfig(pairs=(), family="spade", direction="map2sat", gan_loss="hinge", lambda_l1=10.0)
    out = BandStats("uint8", (0.0,) * 3, (255.0,) * 3, "fixed")
    objective = obj.Objective(obj.LossWeights(gan_loss="hinge", l1=10.0), family.draw(G, fopts),
                              family.generator_terms(cfg, fopts, plan, out))
    return obj.Networks(G, D), opts, batch, objective


SCENARIOS: dict[str, Callable[[bool, Any], Built]] = {"pix2pix": pix2pix, "spade": spade}


def _same_first_step(old_step: Any, new_step: Any, old: Built, new: Built, autocast: tuple[Any, Any]) -> str:
    """One step of each from copies of the same state and RNG: the same losses and weights?"""
    o, n = copy.deepcopy(old), copy.deepcopy(new)
    torch.manual_seed(5)
    lo = old_step.gan_step(*o, autocast[0]).as_row()
    torch.manual_seed(5)
    ln = new_step.gan_step(*n, autocast[1]).as_row()
    weights = [(a, b) for net in ("G", "D") for a, b in zip(getattr(o[0], net).state_dict().values(),
                                                            getattr(n[0], net).state_dict().values(), strict=True)]
    same = lo == ln and all(torch.equal(a, b) for a, b in weights)
    return f"identical losses ({', '.join(lo)}) and weights" if same else f"DIFFERENT: {lo} vs {ln}"


def _ops(step: Any, built: Built, autocast: Any) -> list[str]:
    """The aten operations one step dispatches, in order (forward and backward)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Log(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.ops: list[str] = []

        def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            self.ops.append(str(func.overloadpacket.__name__))
            return func(*args, **(kwargs or {}))

    with Log() as log:
        step.gan_step(*copy.deepcopy(built), autocast)
    return log.ops


def _time(fns: dict[str, Callable[[], Any]], steps: int, rounds: int) -> dict[str, dict[str, list[float]]]:
    """Seconds per step of each function, per round: wall clock and this process's CPU time (on a
    machine others load too, the CPU time moves far less with their load than the wall clock)."""
    times: dict[str, dict[str, list[float]]] = {k: {"wall": [], "cpu": []} for k in fns}
    for r in range(rounds):
        order = list(fns) if r % 2 == 0 else list(fns)[::-1]
        for name in order:
            fns[name]()  # warm-up
            t, c = time.perf_counter(), time.process_time()
            for _ in range(steps):
                fns[name]()
            times[name]["wall"].append((time.perf_counter() - t) / steps)
            times[name]["cpu"].append((time.process_time() - c) / steps)
    return times


def _report(times: dict[str, dict[str, list[float]]], steps: int, rounds: int) -> None:
    print(f"  {steps} steps x {rounds} rounds, medians:")
    for clock in ("wall", "cpu"):
        med = {k: float(np.median(v[clock])) for k, v in times.items()}
        for k, v in med.items():
            rounds_ms = ", ".join(f"{x * 1000:.0f}" for x in times[k][clock])
            print(f"    {clock:4s} {k:7s} {v * 1000:8.1f} ms/step   (rounds: {rounds_ms})")
        # each round's pair ran back to back
        paired = [b / t for b, t in zip(times["before"][clock], times["today"][clock], strict=True)]
        fastest = {k: min(v[clock]) for k, v in times.items()}  # the least disturbed round: load only adds time
        print(f"    {clock:4s} ratio speed today / before: medians {med['before'] / med['today']:.3f}, median of "
              f"per-round ratios {float(np.median(paired)):.3f} (rounds {min(paired):.2f}-{max(paired):.2f}), "
              f"fastest rounds {fastest['before'] / fastest['today']:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-amp", action="store_true")
    ap.add_argument("--base", default="554d5e0")
    ap.add_argument("--only", default=",".join(SCENARIOS))
    ap.add_argument("--ops", action="store_true", help="compare the aten operations of one step, no timing")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    extract_base(a.base, tmp)
    sys.path.insert(0, str(tmp))
    old_step, old_device = _old("step"), _old("device")
    from geo_pix2pix.runtime.device import plan_device
    from geo_pix2pix.training import step as new_step

    plan, old_plan = plan_device("cpu", amp=not a.no_amp), old_device.plan_device("cpu", amp=not a.no_amp)
    flags = " ".join(f for f in ("avx2", "avx512_bf16", "amx_tile") if f in Path("/proc/cpuinfo").read_text())
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpu ({flags}), torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {plan.describe()}; base {a.base}")
    for name in a.only.split(","):
        old, new = SCENARIOS[name](True, old_plan), SCENARIOS[name](False, plan)
        print(f"{name}: {SCENARIOS[name].__doc__}")
        same = _same_first_step(old_step, new_step, old, new, (old_plan.autocast(), plan.autocast()))
        print(f"  first step from the same state: {same}")
        if a.ops:
            before, today = _ops(old_step, old, old_plan.autocast()), _ops(new_step, new, plan.autocast())
            print(f"  aten ops of one step: {len(before)} before, {len(today)} today; same order: {before == today}; "
                  f"only before: {dict(Counter(before) - Counter(today))}, only today: "
                  f"{dict(Counter(today) - Counter(before))}")
            continue
        times = _time({"before": lambda old=old: old_step.gan_step(*old, old_plan.autocast()),
                       "today": lambda new=new: new_step.gan_step(*new, plan.autocast())}, a.steps, a.rounds)
        _report(times, a.steps, a.rounds)


if __name__ == "__main__":
    main()
