#!/usr/bin/env bash
# The CUDA paths on full-size random-weight models (MusicGen fp16/bf16 with the KV cache,
# faiss-gpu, the describer), timed, no downloads: see benchmarks/gpu_check.py.
#
#   benchmarks/gpu_check.sh                       # on a GPU machine: ~10 s of music per dtype
#   benchmarks/gpu_check.sh --device cpu --seconds 1 --out /tmp/gpu_check.json   # CPU smoke run
#
# Runs from any folder; uses $PYTHON (default: python3) with this checkout first on the path.
# Offline on purpose (HF_HUB_OFFLINE=1): every model is built here from its configuration.
# Stops after 8 minutes (GPU_CHECK_TIMEOUT seconds) rather than hang.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec timeout "${GPU_CHECK_TIMEOUT:-480}" "${PYTHON:-python3}" -m benchmarks.gpu_check "$@"
