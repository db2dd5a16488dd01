#!/usr/bin/env bash
# Issue 14 item 5: the title-band CNN specialist (configs/models/title_band.yaml) beside the OCR expert on the
# form family {3,4,7,14}. Usage: bench/title_band.sh S W
#   S  a sample data dir (with test_labels.csv), e.g. work/demo/sample
#   W  a work dir that has folds.csv and the OCR run W/runs/ocr-3-4-7-14, made with
#      dl-cls ocr --data S --work W --classes 3,4,7,14 --label-fixes none --test-from demo --cache work/ocr-cache
# Writes W/normalised-test (the test images normalised as that OCR run read them: its table comes from the cache,
# nothing is read again) and trains W/runs/title-band (BAND_NAME=... for another name; an existing run of the same
# recipe is only reused), then prints both models' macro F1 on the group: OOF and on the sample's test images.
set -euo pipefail
cd "$(dirname "$0")/.."
S=${1:?usage: bench/title_band.sh SAMPLE_DIR WORK_DIR}
W=${2:?usage: bench/title_band.sh SAMPLE_DIR WORK_DIR}
X=.venv/bin/dl-cls
PY=.venv/bin/python
OCR=$W/runs/ocr-3-4-7-14
N=$W/normalised-test
BAND=$W/runs/${BAND_NAME:-title-band}
export NO_ALBUMENTATIONS_UPDATE=1
start=$(date +%s)
step() { printf '\n=== [%4ss] %s\n' $(( $(date +%s) - start )) "$*"; }
[ -f "$OCR/config.yaml" ] || { echo "title_band: no OCR run $OCR (see the usage at the top of $0)" >&2; exit 2; }

# the OCR run's own settings: its cache root (parent of ocr_dir) and the --test-from selection
ocr_key() {
  $PY -c "import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))[sys.argv[2]] or '')" "$OCR/config.yaml" "$1"
}
OCR_DIR=$(ocr_key ocr_dir)
TEST_FROM=$(ocr_key test_from)

step "1/3 normalised test images -> $N (OCR table from $OCR_DIR)"
$X ocr --data "$S" --work "$W" --classes 3,4,7,14 --label-fixes none ${TEST_FROM:+--test-from "$TEST_FROM"} \
  --cache "$(dirname "$OCR_DIR")" --no-expert --no-progress --write-normalised "$N"

step "2/3 train the title-band specialist on {3,4,7,14}: originals, band [0, 0.33], test_dir $N"
$X train --data "$S" --work "$W" --model title_band --aug none --name "$(basename "$BAND")" --label-fixes none \
  --classes 3,4,7,14 test_dir="$N"

step "3/3 scores on the group"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# dl-cls score wants the labels of exactly the scored IDs: each subset's predictions and labels go to $T.
# oof: the group's train images (the OCR expert's oof.csv holds only those it read text on); group: the sample's
# test images whose true class is in the group; read: those of them the OCR run read and normalised (the others
# are unchanged pages for the band model and a uniform row, i.e. no prediction, arg-max p_3, for the expert)
$PY - "$S" "$OCR_DIR/ocr.csv" "$T" "$BAND" "$OCR" <<'EOF'
import sys, pandas as pd
s, table, out, *runs = sys.argv[1:]
train = pd.read_csv(f"{s}/train.csv", dtype={"ID": str})
labels = pd.read_csv(f"{s}/test_labels.csv", dtype={"ID": str})
group = set(labels.loc[labels["target"].isin([3, 4, 7, 14]), "ID"])
ocr = pd.read_csv(table, dtype={"ID": str})
read = group & set(ocr.loc[ocr["split"] == "test", "ID"])
for name, run in zip(("band", "ocr"), runs):
    oof, test = (pd.read_csv(f"{run}/{f}.csv", dtype={"ID": str}) for f in ("oof", "test_probs"))
    for subset, probs, truth in (("oof", oof, train), ("group", test[test["ID"].isin(group)], labels),
                                 ("read", test[test["ID"].isin(read)], labels)):
        probs.to_csv(f"{out}/{name}-{subset}.csv", index=False)
        truth[truth["ID"].isin(probs["ID"])].to_csv(f"{out}/{name}-{subset}.labels.csv", index=False)
EOF
for subset in oof group read; do
  case $subset in
    oof) echo "OOF macro F1 on the group's train images:" ;;
    group) echo "the sample's test images of the group:" ;;
    read) echo "the sample's test images of the group that the OCR run read (and normalised):" ;;
  esac
  for name in band ocr; do
    printf '  %-5s' "$name"
    $X score "$T/$name-$subset.csv" --labels "$T/$name-$subset.labels.csv" | sed "s|^$T/[^:]*:||"
  done
done
step "done"
