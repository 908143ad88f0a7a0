#!/usr/bin/env bash
# The geopix demo, run by `make demo`: train on a real georeferenced Google satellite/map pair
# (Houston), translate a scene training never saw (Charlotte), score it, and preview it.
# About 1.5 minutes on 2 CPU cores; on a GPU the same commands run with mixed precision.
set -euo pipefail
cd "$(dirname "$0")/.."
G=.venv/bin/geopix
DATA=examples/data
mkdir -p out

echo "== 1/5 describe the sample"
$G info $DATA/houston_sat.tif

echo "== 2/5 cut chips (georeferenced GeoTIFFs + index.gpkg for QGIS)"
$G tile --imagery $DATA/houston_sat.tif --maps $DATA/houston_map.tif --out out/chips \
        --tile-size 128 --overwrite

echo "== 3/5 train sat2map on Houston (a strip is held out for validation), with the CPU recipe"
$G train --imagery $DATA/houston_sat.tif --maps $DATA/houston_map.tif --out runs/demo \
         --recipe cpu --steps 600 --val-every 150 --checkpoint-every 300 --overwrite

echo "== 4/5 translate Charlotte, which training never saw"
$G translate $DATA/charlotte_sat.tif out/demo_map.tif --model runs/demo --overwrite
$G evaluate --model runs/demo --imagery $DATA/charlotte_sat.tif --maps $DATA/charlotte_map.tif \
    --palette examples/palettes/google_maps_sat2maps.json

echo "== 5/5 preview: input | prediction | reference"
.venv/bin/python -m geo_pix2pix.preview $DATA/charlotte_sat.tif out/demo_map.tif \
    $DATA/charlotte_map.tif out/demo_preview.png
echo "done: out/demo_map.tif (open it in QGIS), out/demo_preview.png, runs/demo/ (metrics, samples, loss.png)"
