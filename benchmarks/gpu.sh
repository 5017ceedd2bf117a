#!/usr/bin/env bash
# The GPU benchmarks as one script, for a machine with one GPU (about 5 minutes on an H200):
#   bash benchmarks/gpu.sh                 # CUDA: S1 sizes (CNN full width at 128x128)
#   bash benchmarks/gpu.sh --device cpu    # the same steps at CPU sizes, to check the script
# Prints: CNN training samples/s fed from HDF5 shards vs from GPU-resident tensors (fp32, and
# bf16 + channels_last; bench_loader.py), train_one vs a bare PyTorch loop and the fold job's
# overhead beyond its compute (bench_train.py), and attribution seconds per sample per method
# (bench_attribution.py, where the attribution stage is installed).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python}
DEVICE=cuda
[[ "${1:-}" == "--device" ]] && DEVICE=${2:?--device needs cpu or cuda}
export PYTHONPATH=${PYTHONPATH:-src}

if [[ "$DEVICE" == cuda ]]; then
  $PY -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else "no CUDA device: use --device cpu")'
  N=8192 SIZE=128 WIDTH=1 EPOCHS=3 LOADER_N=4000 STEPS=60
else
  N=256 SIZE=32 WIDTH=0.125 EPOCHS=1 LOADER_N=256 STEPS=5
fi

echo "== loader: shard vs GPU-resident (bench_loader.py)"
$PY benchmarks/bench_loader.py --n "$LOADER_N" --size "$SIZE" --workers 0 2 --compression none \
  --steps "$STEPS"

for precision in 32-true bf16-mixed; do
  [[ "$DEVICE" == cpu && "$precision" != 32-true ]] && continue
  echo "== train_one vs bare loop, $precision (bench_train.py)"
  $PY benchmarks/bench_train.py --device "$DEVICE" --model lstm cnn --n "$N" --size "$SIZE" \
    --width "$WIDTH" --epochs "$EPOCHS" --repeats 2 --precision "$precision" 2>&1 \
    | grep -E '^(torch|lstm|cnn) '
done

if [[ -f benchmarks/bench_attribution.py ]]; then
  echo "== attribution seconds per sample per method (bench_attribution.py)"
  if [[ "$DEVICE" == cuda ]]; then
    $PY benchmarks/bench_attribution.py --devices cuda --samples 16 --cnn 32:0.25 128:1.0
  else
    $PY benchmarks/bench_attribution.py --devices cpu --samples 2 --cnn 32:0.25 --ig-steps 8
  fi
else
  echo "== attribution: benchmarks/bench_attribution.py not in this tree; skipped"
fi
echo "== full-disk model frames/s: no full-disk model in this tree yet (issue 14); skipped"
