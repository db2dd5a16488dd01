#!/usr/bin/env bash
# Issue 29: the text runs' gap (test-like OOF - sample test F1) on fresh demo-size samples, one per seed, so that
# one sample's draw is not read as the tool's bias. Usage: bench/ocr_gap_seeds.sh [SEED...] (default 1 2 3)
# Each seed: `dl-cls sample` as make demo draws it (408 train + 408 test pages), 3 folds, a cold `dl-cls ocr
# --classes all 3,4,7,14` (its own pose model; readings cached under work/ocr-cache-seeds), then
# bench/ocr_gap.py; at the end the mean gap of each run over the seeds. ~14 min a seed on 2 cores: run it alone.
# Work dirs: work/gap-seed<SEED> (reused when there: a rerun only prints the figures again).
set -euo pipefail
cd "$(dirname "$0")/.."
X=.venv/bin/dl-cls
PY=.venv/bin/python
export NO_ALBUMENTATIONS_UPDATE=1
SEEDS=("$@")
[ ${#SEEDS[@]} -gt 0 ] || SEEDS=(1 2 3)
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
for s in "${SEEDS[@]}"; do
  W=work/gap-seed$s
  D=$W/sample
  printf '\n=== seed %s (%s)\n' "$s" "$(date +%T)"
  [ -f "$D/test_labels.csv" ] || $X sample "$D" --seed "$s" --test-per-class 24
  [ -f "$W/folds.csv" ] || $X folds --data "$D" --work "$W" --n-folds 3 --label-fixes none
  [ -f "$W/runs/ocr-all/summary.json" ] || $X ocr --data "$D" --work "$W" --classes all 3,4,7,14 \
    --label-fixes none --cache work/ocr-cache-seeds --no-progress | grep -E "^letters a page|^wrote"
  $PY bench/ocr_gap.py --data "$D" --work "$W" | tee -a "$OUT" | grep -v "^$"
done
# the run lines: name OOF full fold +-sd fold_avg gap gap_sd copies curve ...
printf '\nmean over %d seeds (gap = OOF - sample test F1; sd: one seed'"'"'s, from its pages alone):\n' \
  "${#SEEDS[@]}"
awk '$1 == "member" || $1 == "family" {n[$1]++; g[$1] += $7; g2[$1] += $7 * $7; sd[$1] += $8}
     END {for (r in n) {m = g[r] / n[r]; v = n[r] > 1 ? (g2[r] - n[r] * m * m) / (n[r] - 1) : 0;
          printf "  %-7s gap %+.3f (spread over seeds %.3f, mean sd within a seed %.3f)\n", r, m, sqrt(v > 0 ? v : 0),
                 sd[r] / n[r]}}' "$OUT"
