#!/usr/bin/env bash
# What `dl-cls ocr` costs past the reading (the re-read judging, both text runs' folds, surest readings, rules,
# readability), and whether a change keeps its outputs: the same pass with every page from the cache, run by the
# code of BASE_REV (a git worktree) and by the working tree, one after the other; wall seconds, the ratio, and the
# runs' files compared byte for byte. Run it alone.
# Usage: bench/ocr_text_runs.sh DATA PASS_WORK [BASE_REV]
#   DATA       the data dir of a finished `dl-cls ocr --classes all 3,4,7,14` pass
#   PASS_WORK  its work dir (folds.csv, runs/orient-*, the cache under PASS_WORK/ocr)
#   BASE_REV   default HEAD
# e.g. bench/ocr_text_runs.sh work/comp640/sample work/comp-cold8 HEAD~1
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:?usage: bench/ocr_text_runs.sh DATA PASS_WORK [BASE_REV]}
PASS=${2:?usage: bench/ocr_text_runs.sh DATA PASS_WORK [BASE_REV]}
REV=${3:-HEAD}
PY=.venv/bin/python
export NO_ALBUMENTATIONS_UPDATE=1
BASE=$(mktemp -d)
trap 'git worktree remove --force "$BASE" >/dev/null 2>&1 || true' EXIT
git worktree add -q --detach "$BASE" "$REV"
declare -A SECS
for v in base now; do
  W=work/bench-text-runs-$v
  rm -rf "$W" && mkdir -p "$W/runs"
  cp "$PASS"/folds.* "$W/" && cp -r "$PASS"/runs/orient-* "$W/runs/"  # the pass's pose model: nothing trained
  src=$PWD; [ $v = base ] && src=$BASE
  t0=$(date +%s.%N)
  $PY -c "import sys; sys.path.insert(0, sys.argv[1]); from dl_cls.cli import main; sys.exit(main(sys.argv[2:]))" \
    "$src" ocr --data "$DATA" --work "$W" --classes all 3,4,7,14 --cache "$PASS/ocr" --no-progress \
    > "$W.log" 2>&1
  SECS[$v]=$(echo "$(date +%s.%N) - $t0" | bc)
  grep -q '"read": 0,' "$W.log" \
    || { echo "ocr_text_runs: $v read pages (not every one cached): see $W.log" >&2; exit 1; }
done
printf '%s (base) %.0f s, working tree %.0f s: x%.2f\n' "$REV" "${SECS[base]}" "${SECS[now]}" \
  "$(echo "${SECS[now]} / ${SECS[base]}" | bc -l)"
for r in ocr-all ocr-3-4-7-14; do
  for f in oof.csv test_probs.csv keywords.csv testlike_copies.yaml; do
    [ -f "work/bench-text-runs-base/runs/$r/$f" ] || continue
    cmp -s "work/bench-text-runs-base/runs/$r/$f" "work/bench-text-runs-now/runs/$r/$f" \
      && echo "  same  $r/$f" || echo "  DIFFERENT  $r/$f"
  done
done
