"""The training dataset: paired augmentation, worker safety, normalisation."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader

from geo_pix2pix.tiles.pairs.dataset import N_AUGMENT, PairWindowDataset, WindowListDataset, dihedral
from geo_pix2pix.tiles.pairs.pair import PairSpec
from geo_pix2pix.tiles.pairs.prepare import TilerConfig, prepare_pair
from geo_pix2pix.tiles.pairs.split import SplitConfig
from tests.conftest import real, smooth_image, write_raster


def test_dihedral_gives_eight_distinct_transforms() -> None:
    a = np.arange(9).reshape(1, 3, 3)
    outs = {dihedral(a, c).tobytes() for c in range(N_AUGMENT)}
    assert len(outs) == 8
    np.testing.assert_array_equal(dihedral(a, 0), a)


def test_same_augmentation_on_imagery_map_and_mask(tmp_path) -> None:
    img = smooth_image(128, 128, 3, seed=5)
    sat = write_raster(tmp_path / "sat.tif", img)
    mp = write_raster(tmp_path / "map.tif", (255 - img).astype(np.uint8))  # pixelwise function of the imagery
    p = prepare_pair(PairSpec(str(sat), str(mp)), TilerConfig(tile=64, split=SplitConfig(val_fraction=0)))
    ds = PairWindowDataset([p.spec], p.train, p.imagery_stats, p.map_stats)
    assert len(ds) == len(p.train) * 8
    seen = set()
    for key in range(16):
        item = ds[key]
        assert item["imagery"].shape == (3, 64, 64) and item["imagery"].dtype == np.float32
        assert item["valid"].shape == (1, 64, 64) and item["valid"].dtype == np.bool_
        # 255 - x maps to -normalize(x): the relation survives only if both got the same transform.
        np.testing.assert_allclose(item["maps"], -item["imagery"], atol=1e-6, rtol=0)
        seen.add(item["imagery"].tobytes())
    assert len(seen) == 16  # augmentations and windows really differ


def test_dataloader_workers_read_the_same_samples() -> None:
    spec = PairSpec(str(real("google_sat2maps/000008_Charlotte_sat.tif")),
                    str(real("google_sat2maps/000008_Charlotte_map.tif")))
    p = prepare_pair(spec, TilerConfig(tile=128))
    ds = PairWindowDataset([p.spec], p.train, p.imagery_stats, p.map_stats)
    keys = list(range(0, len(ds), max(1, len(ds) // 12)))[:12]
    ref = [ds[k]["maps"] for k in keys]
    loader = DataLoader(torch.utils.data.Subset(ds, keys), batch_size=4, num_workers=2)
    got = torch.cat([b["maps"] for b in loader])
    torch.testing.assert_close(got, torch.from_numpy(np.stack(ref)))
    val = WindowListDataset([p.spec], [(0, w) for w in p.val], p.imagery_stats, p.map_stats)
    assert len(val) == 4 and np.abs(val[0]["imagery"]).max() <= 1.0


def test_the_tiles_package_imports_no_deep_learning_framework() -> None:
    """``tiles`` knows no network: every module of it imports without torch (or smp)."""
    import subprocess
    import sys

    code = ("import importlib, pkgutil, sys, geo_pix2pix.tiles as t\n"
            "for m in pkgutil.iter_modules(t.__path__): importlib.import_module('geo_pix2pix.tiles.' + m.name)\n"
            "bad = sorted(k for k in sys.modules if k.split('.')[0] in ('torch', 'segmentation_models_pytorch'))\n"
            "print(bad[:3]); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
