#!/usr/bin/env bash
# Issue 29 item 4: the text runs with N more test-like copies of each train page to train on (--train-copies N),
# paired: each N runs in a fresh work dir WORK-tcN with the folds and pose model of WORK (a finished dl-cls ocr
# pass) and its OCR cache, so only the training copies (and the second readings of pages that the new model is
# unsure about) are read. N=0 is the baseline: it is run again too, since the cache's ocr.csv (what
# bench/ocr_gap.py scores) holds the latest pass's rows only. Prints each pass's wall and bench/ocr_gap.py's rows
# (OOF, test F1, gap) right after it. Run it alone on the cores.
# Usage: bench/ocr_train_copies.sh DATA WORK CACHE [N...]   (default N: 0 1)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 3 ] || { echo "usage: $0 DATA WORK CACHE [N...]" >&2; exit 2; }
DATA=$1 WORK=$2 CACHE=$3
shift 3
NS=("$@")
[ ${#NS[@]} -gt 0 ] || NS=(0 1)
export NO_ALBUMENTATIONS_UPDATE=1
for n in "${NS[@]}"; do
  W=$WORK-tc$n
  [ -e "$W" ] && { echo "$W exists: remove it or pick another N" >&2; exit 2; }
  mkdir -p "$W/runs"
  cp "$WORK"/folds.* "$W"/
  cp -r "$WORK"/runs/orient-* "$W"/runs/
  t0=$(date +%s)
  .venv/bin/dl-cls ocr --data "$DATA" --work "$W" --classes all 3,4,7,14 --label-fixes none --cache "$CACHE" \
    --no-progress --train-copies "$n" | grep -E "^wrote"
  echo "=== --train-copies $n: $W, $(( $(date +%s) - t0 )) s with the rest cached"
  # sed reads the whole output: head would close the pipe early (pipefail)
  .venv/bin/python bench/ocr_gap.py --data "$DATA" --work "$W" | sed -n 1,3p
done
