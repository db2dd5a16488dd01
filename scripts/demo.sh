#!/usr/bin/env bash
# The whole pipeline on the embedded sample dataset, on CPU: sample -> check-data -> folds -> augment ->
# two small members -> ensemble -> OCR (when tesseract is installed): the full-class text member and the expert of
# the confused form family {3,4,7,14} from one reading -> ensemble with them -> report -> scores.
# Everything goes to DEMO_WORK (default work/demo), which is recreated on each run.
set -euo pipefail
cd "$(dirname "$0")/.."
W=${DEMO_WORK:-work/demo}
D=$W/sample
X=.venv/bin/dl-cls
export NO_ALBUMENTATIONS_UPDATE=1
start=$(date +%s)
step() { printf '\n=== [%4ss] %s\n' $(( $(date +%s) - start )) "$*"; }

# recreate the demo's own dir only: a DEMO_WORK that the demo did not make is never deleted
if [ -e "$W" ] && [ ! -f "$W/.dl_cls-demo" ]; then
  echo "demo: $W exists and was not made by the demo (no $W/.dl_cls-demo); set DEMO_WORK to a new dir" >&2
  exit 2
fi
rm -rf "$W"
mkdir -p "$W" && touch "$W/.dl_cls-demo"
step "1/8 sample dataset -> $D"
$X sample "$D" --test-per-class 24  # 408 test images: the test scores at the end are less noisy than with 204
step "2/8 check-data"
$X check-data "$D" --label-fixes none
step "3/8 folds (3 folds)"
$X folds --data "$D" --work "$W" --n-folds 3 --label-fixes none
step "4/8 offline augmentation x4 (doc preset)"
$X augment --data "$D" --work "$W" --scale 4 --preset doc --size 256 --label-fixes none --out "$W/aug/doc_x4"
A=$W/aug/doc_x4
# the members at 128 px on x4 copies: a 2-core CPU trains each in ~4 min (160 px on x6: ~10 min; docs/benchmarks.md)
FAST="img_size=128"
step "5/8 train member 1: tiny"
$X train --data "$D" --work "$W" --model tiny --aug "$A" --name tiny --label-fixes none $FAST
# (a pixel specialist on {3,4,7,14} was dropped from the demo: never applied on the sample, no held-out OOF gain;
# `make train CLASSES=3,4,7,14` trains one)
step "6/8 train member 2: tiny2"
$X train --data "$D" --work "$W" --model tiny2 --aug "$A" --name tiny2 --label-fixes none $FAST
step "7/8 ensemble"
$X ensemble tiny tiny2 --work "$W" --name demo --test-labels "$D/test_labels.csv"
FINAL=demo
# OCR: one pass reads every train page, its test-like copy and every test page, and writes the full-class text
# member (ocr-all) and the family expert (ocr-3-4-7-14) from that one table; its cache lives outside DEMO_WORK, so
# a second demo reads nothing again
if command -v tesseract >/dev/null 2>&1 && tesseract --list-langs 2>/dev/null | grep -qx kor; then
  step "7/8 OCR: full-class text member + family expert, then the ensemble with them"
  $X ocr --data "$D" --work "$W" --classes all 3,4,7,14 --label-fixes none \
    --cache "${DEMO_OCR_CACHE:-work/ocr-cache}" --no-progress
  $X ensemble tiny tiny2 ocr-all --specialist ocr-3-4-7-14 --work "$W" --name demo-ocr \
    --test-labels "$D/test_labels.csv"
  FINAL=demo-ocr
else
  echo "OCR skipped: tesseract with Korean data not found (make ocr-deps installs it)"
fi
step "8/8 report + sample test-set scores (test_labels.csv)"
$X report "$W/ensembles/$FINAL" --work "$W"
for f in "$W"/runs/tiny/test_probs.csv "$W"/runs/tiny2/test_probs.csv "$W"/runs/ocr-all/test_probs.csv \
         "$W"/ensembles/demo*/submission.csv; do
  [ -f "$f" ] || continue
  printf '%-45s ' "$f"; $X score "$f" --labels "$D/test_labels.csv"
done
step "done: report in $W/ensembles/$FINAL/report/"
