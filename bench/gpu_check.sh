#!/usr/bin/env bash
# The GPU check, end to end with nothing to edit (bench/gpu_check.py says what it checks and measures).
#
# Where: the GPU machine (Python 3.12, torch, onnxruntime; no rasterio, no index), with this tree and
# bench/gpu_wheels/ from bench/gpu_wheels.sh. It installs those wheels into a folder of its own
# (--no-index --no-deps, nothing else on the machine changes), then runs the check under a hard limit of
# 7.5 minutes (its parts stop starting at 6.5). Everything it prints goes to one file:
#
#   bash bench/gpu_check.sh [LOG [ARGS...]]   # LOG default: $OUT/gpu_check.txt if $OUT is set, else out/gpu_check.txt
#
# DEVICE (cuda), MINUTES (6.5) and SMALL=1 (tiny sizes, e.g. DEVICE=cpu SMALL=1 for a dry run) change it;
# ARGS go to bench/gpu_check.py (e.g. --onnx-model DIR).
set -uo pipefail
cd "$(dirname "$0")/.."
LOG=${1:-${OUT:-out}/gpu_check.txt}
shift || true
mkdir -p "$(dirname "$LOG")"
exec > >(tee "$LOG") 2>&1

PY=${PY:-python3}
SITE=${SITE:-/tmp/geopix-gpu-site}
echo "geopix GPU check $(date -u +%FT%TZ), tree $(git rev-parse --short HEAD 2>/dev/null || echo '(no git)'), log $LOG"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

if ! "$PY" -c "import rasterio" 2>/dev/null; then
    if ! ls bench/gpu_wheels/*.whl >/dev/null 2>&1; then
        echo "gpu_check: no rasterio here and no bench/gpu_wheels/*.whl: run bench/gpu_wheels.sh where pip reaches the index"
        exit 1
    fi
    "$PY" -m pip install --quiet --no-index --no-deps --target "$SITE" bench/gpu_wheels/*.whl || exit 1
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi

args=(--device "${DEVICE:-cuda}" --minutes "${MINUTES:-6.5}")
[ -n "${SMALL:-}" ] && args+=(--small)
timeout 450 "$PY" bench/gpu_check.py "${args[@]}" "$@"
status=$?
[ $status -eq 124 ] && echo "gpu_check: stopped at the 7.5-minute limit"
echo "gpu_check: exit $status; log $LOG"
exit $status
