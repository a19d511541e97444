#!/usr/bin/env bash
# The first minutes on a GPU: prove every part of the GPU path (see benchmarks/gpu_check.py).
#   bash benchmarks/gpu_check.sh                       # on a CUDA machine (under 8 minutes)
#   bash benchmarks/gpu_check.sh --device cpu --quick  # every step at toy size on a CPU (CI)
# Each step runs in its own process group under `timeout -k`; results are appended to
# OUT/results.jsonl after every step, so a crash or a time-out keeps what finished; a summary
# table ends the run (OUT/summary.txt). OUT is a fresh folder: gpu_check_out/<UTC time> unless
# set; an existing non-empty OUT is refused.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
DEVICE=cuda
QUICK=""
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --device=*) DEVICE="${1#--device=}"; shift ;;
    --quick) QUICK="--quick"; shift ;;
    *) echo "gpu_check.sh: unknown argument '$1' (use --device cuda|cpu and --quick)" >&2; exit 2 ;;
  esac
done
OUT=${OUT:-gpu_check_out/$(date -u +%Y%m%dT%H%M%SZ)}
if [ -e "$OUT" ] && [ -n "$(ls -A "$OUT" 2>/dev/null)" ]; then
  echo "gpu_check.sh: output folder $OUT exists and is not empty; choose a fresh OUT" >&2; exit 2
fi
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

# step and its time limit in seconds (GPU; the quick CPU run uses the second number)
failed=0
STEPS="env:120:60 one_step:150:60 throughput:150:60 packed:60:60 resume:120:90 ddp:90:90 fp16_ema_mixup:60:60"
for entry in $STEPS; do
  IFS=: read -r step gpu_limit cpu_limit <<< "$entry"
  limit=$gpu_limit; [ -n "$QUICK" ] && limit=$cpu_limit
  limit=${GPU_CHECK_STEP_TIMEOUT:-$limit}
  start=$(date +%s)
  setsid timeout -k 10 "$limit" "$PY" benchmarks/gpu_check.py "$step" --out "$OUT" --device "$DEVICE" $QUICK \
    > "$OUT/$step.log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  timed_out=false; { [ $rc -eq 124 ] || [ $rc -eq 137 ]; } && timed_out=true
  printf '{"step": "%s", "ok": %s, "rc": %d, "timed_out": %s, "seconds": %d, "limit_s": %d}\n' \
    "${step}_done" "$( [ $rc -eq 0 ] && echo true || echo false )" "$rc" "$timed_out" "$secs" "$limit" \
    >> "$OUT/results.jsonl"
  echo "gpu_check: $step rc=$rc ${secs}s (limit ${limit}s)"
  [ $rc -eq 0 ] || failed=$((failed + 1))
done
"$PY" benchmarks/gpu_check.py summary --out "$OUT" --device "$DEVICE" $QUICK
echo "gpu_check: $failed step(s) failed; results in $OUT/results.jsonl"
exit $(( failed > 0 ))
