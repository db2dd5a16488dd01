#!/usr/bin/env bash
# Behaviour unchanged by a refactor: the same data and recipe, trained by the code at BASE and by this checkout,
# must give byte-identical oof.csv and test_probs.csv. Validation is on the clean originals
# (select_metric/oof_on=clean), so a deliberate change of the test-like corruption does not count.
# Usage: scripts/same_numbers.sh BASE_COMMIT   (about 2 x 2 minutes on an idle 2-core CPU)
set -euo pipefail
BASE=${1:?usage: scripts/same_numbers.sh BASE_COMMIT}
REPO=$(cd "$(dirname "$0")/.." && pwd)
PY=$REPO/.venv/bin/python
R=$(mktemp -d)
export NO_ALBUMENTATIONS_UPDATE=1
git -C "$REPO" worktree add -q "$R/old" "$BASE"
trap 'git -C "$REPO" worktree remove --force "$R/old"' EXIT
(cd "$REPO" && $PY -m dl_cls.cli sample "$R/data" --train-per-class 12 --test-per-class 2 --size 128 >/dev/null)
ARGS=(--data "$R/data" --cpu --name r --label-fixes none img_size=96 batch_size=16 epochs=10 n_folds=2
      select_metric=clean oof_on=clean "tta_rotations=[0,90]" tta_hflip=false)
(cd "$R/old" && $PY -m dl_cls.cli train --model tiny --work "$R/w_old" "${ARGS[@]}" | tail -1)
(cd "$REPO" && $PY -m dl_cls.cli train --model tiny --work "$R/w_new" "${ARGS[@]}" | tail -1)
status=0
for f in oof.csv test_probs.csv fold0/oof.csv fold1/test_probs.csv; do
  if cmp -s "$R/w_old/runs/r/$f" "$R/w_new/runs/r/$f"; then echo "identical: $f"; else echo "DIFFERS: $f"; status=1; fi
done
exit $status
