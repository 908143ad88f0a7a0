"""Model files and checkpoints: metadata round trip, refusal of foreign or malicious files."""

from __future__ import annotations

import pickle

import pytest
import torch

from geo_pix2pix.files.checkpoint import load_checkpoint, save_checkpoint
from geo_pix2pix.files.modelfile import ModelMeta, load_model, read_meta, save_model
from geo_pix2pix.models import GeneratorConfig, build_generator
from geo_pix2pix.tiles.encoding.normalize import BandStats
from geo_pix2pix.tiles.errors import CheckpointError, ModelFileError


def _meta(gcfg: GeneratorConfig) -> ModelMeta:
    return ModelMeta(generator=gcfg, direction="map2sat", input_bands=(1, 2, 3), output_bands=(3, 2, 1, 4),
                     input_stats=BandStats("uint8", (0.0,) * 3, (255.0,) * 3),
                     output_stats=BandStats("uint16", (10.0, 20.0, 30.0, 40.0), (900.0, 800.0, 700.0, 600.0),
                                            "percentile"),
                     tile_size=64, step=42, pairs=({"imagery": "/a.tif", "maps": "/b.tif", "crs": None,
                                                    "crs_name": None, "pixel_size": [0.5, 0.5]},))


def test_model_file_round_trip(tmp_path) -> None:
    gcfg = GeneratorConfig(in_channels=3, out_channels=4, tile=64, ngf=8)
    G = build_generator(gcfg).eval()
    meta = _meta(gcfg)
    save_model(tmp_path / "m.safetensors", G.state_dict(), meta)
    assert read_meta(tmp_path / "m.safetensors") == meta
    G2, meta2 = load_model(tmp_path / "m.safetensors")
    assert meta2 == meta
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(G2(x), G(x), rtol=0, atol=0)


def test_foreign_and_damaged_model_files_are_refused(tmp_path) -> None:
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ModelFileError, match="not a geopix model"):
        read_meta(tmp_path / "other.safetensors")
    gcfg = GeneratorConfig(tile=64, ngf=8)
    save_model(tmp_path / "m.safetensors", build_generator(gcfg).state_dict(), _meta(gcfg))
    data = (tmp_path / "m.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="corrupt or truncated|not a readable"):
        load_model(tmp_path / "cut.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(ModelFileError):
        read_meta(tmp_path / "junk.safetensors")
    with pytest.raises(ModelFileError, match="geopix train"):
        read_meta(tmp_path / "nowhere")


class _Evil:
    """Pickles to a call that would create a file when unpickled."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):  # noqa: ANN204
        return (open, (self.target, "w"))


def test_checkpoint_with_code_is_refused_and_runs_nothing(tmp_path) -> None:
    planted = tmp_path / "pwned.txt"
    bad = tmp_path / "checkpoint.pt"
    torch.save({"step": 1, "G": {}, "payload": _Evil(str(planted))}, bad)
    assert not planted.exists()
    with pytest.raises(CheckpointError, match="not plain tensors and was refused"):
        load_checkpoint(bad)
    assert not planted.exists()  # the pickle's code never ran
    # A plain pickle file (not even a torch zip) is refused too.
    with open(tmp_path / "plain.pt", "wb") as f:
        pickle.dump(_Evil(str(planted)), f)
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "plain.pt")
    assert not planted.exists()


def test_checkpoint_round_trip_and_truncation(tmp_path) -> None:
    state = {"step": 7, "G": {"w": torch.arange(4.0)}, "rng_cpu": torch.get_rng_state()}
    save_checkpoint(tmp_path / "c.pt", state)
    back = load_checkpoint(tmp_path / "c.pt")
    assert back["step"] == 7 and torch.equal(back["G"]["w"], torch.arange(4.0))
    data = (tmp_path / "c.pt").read_bytes()
    (tmp_path / "t.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(tmp_path / "t.pt")


def test_meta_is_a_read_only_mapping_as_well_as_attributes() -> None:
    import dataclasses
    from collections.abc import Mapping

    meta = _meta(GeneratorConfig(in_channels=3, out_channels=4, tile=64, ngf=8))
    assert isinstance(meta, Mapping)
    assert meta.get("family") == meta["family"] == meta.family == "pix2pix"
    assert meta["map_kind"] == meta.map_kind and meta.get("nope") is None and "nope" not in meta
    assert dict(meta)["step"] == 42 and set(meta) == {f.name for f in dataclasses.fields(meta)} | {"map_kind"}
    with pytest.raises(KeyError):
        meta["summary"]  # methods are not keys
    with pytest.raises(TypeError):
        meta["step"] = 1  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        meta.step = 1  # type: ignore[misc]


@pytest.mark.parametrize(("family", "generator", "direction", "line"), [
    ("pix2pix", "unet", "sat2map", "Pix2Pix with a U-Net, imagery -> value map, step 42"),
    ("pix2pix", "smp:resnet34", "sat2map", "Pix2Pix with an smp resnet34 U-Net, imagery -> value map, step 42"),
    ("pix2pix", "unet", "map2sat", "Pix2Pix with a U-Net, rendered map -> imagery, step 42"),
    ("inpaint", "unet", "sat2map", "Inpainting with a U-Net, fills holes in imagery, step 42"),
])
def test_the_model_line_reads_as_words(family, generator, direction, line) -> None:
    import dataclasses

    gcfg = GeneratorConfig(name=generator, in_channels=3, out_channels=4, tile=64, ngf=8)
    meta = dataclasses.replace(_meta(gcfg), family=family, direction=direction)
    assert meta.summary() == line
