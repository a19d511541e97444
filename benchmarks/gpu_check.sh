#!/usr/bin/env bash
# One short run that proves the GPU path (under 8 minutes on one GPU); results under $OUT.
#   bash benchmarks/gpu_check.sh              # on a CUDA machine
#   bash benchmarks/gpu_check.sh --device cpu # dry run of the same code on a CPU
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
OUT=${OUT:-gpu_check_out}
# 8 minutes on a GPU; a CPU dry run gets longer (set GPU_CHECK_TIMEOUT to change either).
case " $* " in *" cpu "*|*"--device=cpu"*) LIMIT=${GPU_CHECK_TIMEOUT:-1800} ;; *) LIMIT=${GPU_CHECK_TIMEOUT:-480} ;; esac
timeout "$LIMIT" "$PY" benchmarks/gpu_check.py --out "$OUT" "$@"
