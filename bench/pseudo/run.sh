#!/usr/bin/env bash
# Issue 25 measurement: tiny with vs without pseudo-labels on the embedded sample (demo settings), one process at a time.
set -euo pipefail
cd "$(dirname "$0")/../.."
W=${PSEUDO_BENCH_WORK:-work/pseudo-bench}; D=$W/sample; X=.venv/bin/dl-cls
export NO_ALBUMENTATIONS_UPDATE=1
if [ -e "$W" ]; then echo "$W exists: set PSEUDO_BENCH_WORK to a new dir" >&2; exit 2; fi; mkdir -p "$W"
t0=$(date +%s); T() { echo "=== [$(( $(date +%s) - t0 ))s] $*"; }
T sample; $X sample "$D" --test-per-class 24 >/dev/null
$X folds --data "$D" --work "$W" --n-folds 3 --label-fixes none >/dev/null
T augment; $X augment --data "$D" --work "$W" --scale 4 --preset doc --size 256 --label-fixes none --out "$W/aug/doc_x4" --no-progress | tail -3
T "train tiny (no pseudo)"; $X train --data "$D" --work "$W" --model tiny --aug "$W/aug/doc_x4" --pseudo none --name tiny --label-fixes none img_size=128 | tail -6
T ensemble-before; $X ensemble tiny --work "$W" --name before --test-labels "$D/test_labels.csv" | tail -2
.venv/bin/python bench/pseudo/thresholds.py "$W/ensembles/before" "$D" | tee "$W/thr.txt"
THR=$(tail -1 "$W/thr.txt")
T "pseudo threshold=$THR"; $X pseudo --data "$D" --work "$W" --from before --no-progress threshold=$THR
T augment-pseudo; $X augment --data "$D" --work "$W" --scale 4 --preset doc --size 256 --label-fixes none --pseudo current --out "$W/aug/doc_x4_pseudo" --no-progress | tail -3
T "train tiny (pseudo)"; $X train --data "$D" --work "$W" --model tiny --aug "$W/aug/doc_x4_pseudo" --name tiny-pseudo --label-fixes none img_size=128 | tail -6
T ensembles-after
$X ensemble tiny-pseudo --work "$W" --name after-pseudo-only --test-labels "$D/test_labels.csv" | tail -2
$X ensemble tiny tiny-pseudo --work "$W" --name after-mixed --test-labels "$D/test_labels.csv" | tail -2
T scores
for f in runs/tiny/test_probs.csv runs/tiny-pseudo/test_probs.csv ensembles/before/submission.csv ensembles/after-pseudo-only/submission.csv ensembles/after-mixed/submission.csv; do
  printf '%-45s ' "$f"; $X score "$W/$f" --labels "$D/test_labels.csv"; done
.venv/bin/python bench/pseudo/precision.py "$W" "$D"
$X runs --work "$W"
T done
