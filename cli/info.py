"""``geopix info FILE``: describe a raster, a geopix model file, or an ONNX file."""

from __future__ import annotations

import json
from typing import Any

import click


@click.command()
@click.argument("path", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def info(path: str, as_json: bool) -> None:
    """Describe a raster (CRS, size, pixel size, bands, dtype, nodata, bounds), a model file, or an
    ONNX file (its graph's input and output, the GIS clients' metadata, geopix's model).

    \b
    Example:
      geopix info examples/data/houston_sat.tif
    """
    from pathlib import Path

    if Path(path).is_dir() and not _is_run_dir(path):
        from geo_pix2pix.tiles.errors import ModelFileError

        has = sorted(p.name for p in Path(path).iterdir())[:6]
        what = ("a run directory without model.safetensors (training has not written one yet; it is "
                "written at the first checkpoint and at the end)" if (Path(path) / "config.json").exists()
                else "a directory, not a raster or a run directory (no model.safetensors)")
        raise ModelFileError(f"{path} is {what}; it holds: {', '.join(has) or 'nothing'}")
    if path.lower().endswith(".onnx"):
        from geo_pix2pix.export.describe import describe_onnx

        onnx_desc = describe_onnx(path)
        click.echo(json.dumps(onnx_desc, indent=2) if as_json else "\n".join(_onnx_lines(onnx_desc)))
        return
    if path.endswith(".safetensors") or _is_run_dir(path):
        from geo_pix2pix.files.modelfile import describe_model

        meta = describe_model(path)
        if as_json:
            click.echo(json.dumps(meta, indent=2))
        else:
            for line in _model_lines(meta):
                click.echo(line)
        return
    from geo_pix2pix.tiles.raster import describe

    desc = describe(path)
    if as_json:
        click.echo(json.dumps(desc.to_dict(), indent=2))
    else:
        for line in desc.lines():
            click.echo(line)


def _is_run_dir(path: str) -> bool:
    from pathlib import Path

    return Path(path).is_dir() and (Path(path) / "model.safetensors").exists()


def _generator_line(g: dict[str, Any]) -> str:
    """The generator's name and, for Pix2PixHD, SPADE and a U-Net of fixed depth, its shape (what
    decides tile multiples)."""
    if g.get("name") == "spade":
        style = f"style encoder ({g['style_dim']}-d styles)" if g.get("style_dim") else "no style encoder"
        return (f"spade: ngf {g['ngf']}, {g['n_up']} upsamplings, {g['hidden']} hidden per SPADE, {style}; "
                f"tiles in multiples of {2 ** g['n_up']}")
    if g.get("name") == "unet" and g.get("depth"):  # a fixed --unet-depth (else it follows the tile)
        return f"unet: {g['depth']} levels; tiles in multiples of {2 ** g['depth']}"
    if g.get("name") != "pix2pixhd":
        return str(g.get("name"))
    mult = 2 ** (g["n_downsample"] + g["n_local_enhancers"])
    return (f"pix2pixhd: ngf {g['ngf']}, {g['n_downsample']} downsamplings, {g['n_blocks']} blocks, "
            f"{g['n_local_enhancers']} local enhancer(s); tiles in multiples of {mult}")


def _model_lines(meta: dict[str, Any]) -> list[str]:
    g = meta["generator"]
    lines = [
        f"model:       {meta['path']}",
        f"format:      geopix model v{meta['format_version']} (geopix {meta['geopix_version']})",
        f"family:      {meta.get('family', 'pix2pix')}",
        f"generator:   {_generator_line(g)} ({meta['parameters']:,} parameters, norm {g.get('norm', '-')})",
        f"direction:   {meta['direction']} ({meta['in_channels']} -> {meta['out_channels']} bands)"
        if meta.get("extra", {}).get("task") != "inpaint" else
        f"task:        inpaint ({meta['out_channels']} bands + hole mask -> {meta['out_channels']} bands; "
        "geopix inpaint)",
        f"reads bands: {','.join(map(str, meta['input_bands']))} of the region; "
        f"writes {len(meta['output_bands'])} band(s)",
        f"tile size:   {meta['tile_size']}",
        f"trained:     {meta['step']} steps",
    ]
    if meta.get("extra", {}).get("init_from"):
        lines.append(f"started:     from the generator of {meta['extra']['init_from']} (--init-from)")
    pairs = meta.get("pairs", [])
    for p in pairs[:3]:
        what = p["imagery"] if p["imagery"] == p["maps"] else f"{p['imagery']} + {p['maps']}"
        lines.append(f"training:    {what} ({p.get('crs_name') or 'no CRS'}, pixel {p['pixel_size'][0]:.6g})")
    if len(pairs) > 3:
        held = sum(1 for p in pairs if p.get("held_out"))
        lines.append(f"             ... {len(pairs) - 3} more pair(s); {held} held out for validation")
    ins, out = meta["input_stats"], meta["output_stats"]
    lines.append(f"input:       {_side(ins)}")
    lines.append(f"output:      {_side(out)}")
    lines.append(f"map kind:    {meta.get('map_kind', '?')}")
    for c in ([] if out.get("classes") else ins.get("classes", []))[:20]:  # a layout's classes (SPADE)
        lines.append(f"  layout class {c['code']:>5}: {c['name']} (rgb {','.join(map(str, c['color'][:3]))})")
    for c in out.get("classes", [])[:20]:
        lines.append(f"  class {c['code']:>5}: {c['name']} (rgb {','.join(map(str, c['color'][:3]))})")
    if len(out.get("classes", [])) > 20:
        lines.append(f"  ... {len(out['classes']) - 20} more classes")
    return lines


def _side(stats: dict[str, Any]) -> str:
    """One side's encoding: class codes, or values (how they are scaled, dtype, nodata, units)."""
    if stats.get("kind") == "categorical":
        return f"{len(stats['classes'])} classes as {stats['dtype']} codes, nodata {stats['nodata']}"
    text = f"{stats['method']} {stats['dtype']}"
    if stats["method"] != "fixed":
        ranges = zip(stats["low"], stats["high"], strict=True)
        text += " [" + ", ".join(f"{lo:.6g}..{hi:.6g}" for lo, hi in ranges) + "]"
    if stats.get("units"):
        text += f" {stats['units']}"
    if stats.get("nodata") is not None:
        text += f", nodata {stats['nodata']}"
    return text


def _onnx_lines(d: dict[str, Any]) -> list[str]:
    """An ONNX file: geopix's model lines where it is a geopix export, then the graph and client keys."""
    def shape(v: dict[str, Any]) -> str:
        return " x ".join(map(str, v["shape"]))

    g = d.get("geopix")
    lines = []
    if g is not None:
        c = d["contract"]
        model = {**g, "path": d["path"], "parameters": d["weights"]}
        lines += [line.replace(" parameters,", " weights,") for line in _model_lines(model)[1:]]
        units = "raw values" if c["input_scale"] == 1 else f"values / {c['input_scale']:g}"
        lines.insert(0, f"model:       {d['path']} (ONNX, exported by geopix {c.get('geopix_version', '?')} from "
                        f"{c.get('source', '?')})")
        lines.append(f"graph in:    {c['input_kind']} as {units}; out: {c['output_kind']}"
                     + (" (per class index)" if c["output_kind"] == "probabilities" else " in the output's units")
                     + (f"; style {c['style']}" if c.get("style") else ""))
    else:
        lines.append(f"model:       {d['path']} (ONNX, no geopix metadata: geopix does not translate it)")
    lines.append(f"onnx:        opset {d['opset']} (IR {d['ir_version']}), {d['bytes'] / 1e6:.1f} MB, "
                 f"{d['weights']:,} weights, by {d['producer'] or '?'}")
    for v in d["inputs"]:
        lines.append(f"  input:     {v['name']} {shape(v)}")
    for v in d["outputs"]:
        lines.append(f"  output:    {v['name']} {shape(v)}")
    for k, v in d["metadata"].items():
        lines.append(f"  {k}: {json.dumps(v) if not isinstance(v, str) else v}")
    for note in d.get("notes", []):
        lines.append(f"note:        {note}")
    return lines
