#!/usr/bin/env bash
# What the GPU machine lacks, fetched here (where the package index is reachable) into bench/gpu_wheels/
# (ignored by git; send it with the tree: the device tool's carry=["bench/gpu_wheels"]).
#
# The GPU machine has Python 3.12 with torch 2.11 / torchvision 0.26, onnxruntime, tqdm, safetensors and
# scikit-image; it has no rasterio/GDAL, shapely, geopandas, pyogrio or segmentation-models-pytorch, and
# nothing can be downloaded there. Everything sent must stay under 64 MiB (the tracked tree is ~17.5 MB):
#   - rasterio 1.3.11 (21.8 MB; 1.4.x wheels are 35-39 MB) and its pure-Python dependencies, click
#     among them (geopix's command line needs it too);
#   - shapely, and segmentation-models-pytorch without its timm/huggingface-hub dependencies (the
#     check trains the paper U-Net, not an smp encoder);
#   - no pyogrio/geopandas (pyogrio alone is 33 MB): the check needs no vector I/O;
#   - no matplotlib: the check skips the loss plot where it is missing;
#   - no onnx/onnxscript (the exporter): a small model is exported here, into gpu_wheels/model/, for
#     the check's ONNX Runtime part.
# All wheels are installed there with --no-deps, so this list is the whole of what is added.
#
#   bash bench/gpu_wheels.sh            # then: the tree + bench/gpu_wheels, and bash bench/gpu_check.sh there
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=bench/gpu_wheels
PY=${PY:-.venv/bin/python}
RASTERIO=${RASTERIO:-1.3.11}
LIMIT=$((64 * 1024 * 1024))
mkdir -p "$DEST"

"$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp --abi cp312 \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    -d "$DEST" "rasterio==$RASTERIO" "shapely>=2" "segmentation-models-pytorch>=0.3.3" \
    affine attrs certifi "click>=8.1" "cligj>=0.5" click-plugins "snuggs>=1.4.1" pyparsing

# A small U-Net (ngf 8, 64-pixel tiles), its model file and its ONNX export, for the ONNX Runtime part.
"$PY" - "$DEST/model" <<'EOF'
import sys
from pathlib import Path

import torch

from geo_pix2pix.export import ExportConfig, export_onnx
from geo_pix2pix.files.modelfile import ModelMeta, save_model
from geo_pix2pix.models.registry import GeneratorConfig, build_generator
from geo_pix2pix.tiles.encoding.normalize import BandStats

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
torch.manual_seed(0)
gcfg = GeneratorConfig(tile=64, ngf=8)
rgb = BandStats("uint8", (0.0,) * 3, (255.0,) * 3)
save_model(out / "model.safetensors", build_generator(gcfg).state_dict(),
           ModelMeta(gcfg, "sat2map", (1, 2, 3), (1, 2, 3), rgb, rgb, 64, 0, extra={"map_kind": "rendered"}))
export_onnx(ExportConfig(str(out / "model.safetensors"), str(out / "model.onnx"), overwrite=True))
EOF

tree=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
extra=$(git ls-files -z --others --exclude-standard | xargs -0 -r du -cb 2>/dev/null | tail -1 | cut -f1)
wheels=$(du -sb "$DEST" | cut -f1)
total=$((tree + ${extra:-0} + wheels))
ls -l "$DEST" "$DEST/model"
echo "sent: tracked tree $((tree / 1000)) kB + untracked $((${extra:-0} / 1000)) kB + $DEST $((wheels / 1000)) kB" \
     "= $((total / 1000)) kB of $((LIMIT / 1000)) kB"
if [ "$total" -ge "$LIMIT" ]; then
    echo "gpu_wheels: over the 64 MiB the device takes; remove something above" >&2
    exit 1
fi
