#!/usr/bin/env bash
# The geopix demo, run by `make demo`: learn satellite -> map from 32 image pairs of the pix2pix
# "maps" dataset for 600 steps (1.3 to 2.5 minutes on 2 CPU cores), score it on 8 held-out images,
# then translate a georeferenced scene (Charlotte) into a map COG on its exact grid.
# On a GPU the same commands run with mixed precision and the paper's settings.
set -euo pipefail
cd "$(dirname "$0")/.."
G=.venv/bin/geopix
DATA=examples/data
mkdir -p out

echo "== 1/5 describe the georeferenced sample"
$G info $DATA/charlotte_sat.tif

echo "== 2/5 cut georeferenced chips of a pair (GeoTIFFs + index.gpkg for QGIS)"
$G tile --imagery $DATA/houston_sat.tif --maps $DATA/houston_map.tif --out out/chips \
        --tile-size 128 --overwrite

echo "== 3/5 train satellite -> map on 32 maps256 pairs (the last 8 held out whole), CPU recipe"
# Without the recipe's augmentation: it pays from about 5 minutes of training on, and in the
# demo's 600 steps (about a minute) it cost road IoU 0.28 -> 0.14 (bench/README.md, issue 33).
$G train --aligned-dir $DATA/maps256 --val-pairs 8 --out runs/demo --steps 600 \
         --colour-jitter 0 --scale-jitter 1 --val-every 200 --checkpoint-every 300 --seed 0 --overwrite

echo "== 4/5 score the 8 held-out images; translate Charlotte onto its own grid"
$G evaluate --model runs/demo --aligned-dir $DATA/maps256 --palette examples/palettes/google_maps_pix2pix.json
$G translate $DATA/charlotte_sat.tif out/demo_map.tif --model runs/demo --overwrite

echo "== 5/5 previews"
.venv/bin/python examples/heldout_preview.py runs/demo out/demo_heldout.png \
    $DATA/maps256/1027.png $DATA/maps256/1029.png $DATA/maps256/1031.png $DATA/maps256/104.png
.venv/bin/python -m geo_pix2pix.evaluation.preview $DATA/charlotte_sat.tif out/demo_map.tif \
    $DATA/charlotte_map.tif out/demo_preview.png
echo "done: out/demo_heldout.png (held-out images: satellite | geopix | map), out/demo_map.tif (open it"
echo "in QGIS), out/demo_preview.png (Charlotte: satellite | geopix | Google's newer map style), runs/demo/"
