"""Text members and experts (dl-cls ocr runs) in an ensemble: their OOF was measured on test-like copies, which can
read better than the user's test pages. The OCR stage measures that gap without labels and records `test_shrink`
(dl_cls.ocr.readability) in the run's summary.json; here a text run's test probabilities are pulled towards uniform
by that factor, so a blend weighs it less on the test than its OOF chose (for a linear blend on probabilities this
is exactly the weight times the factor; a stacker's per-class coefficients make it no such thing, hence the rule
below that keeps OOF-fitted methods out of the choice when the gap is large)."""
from __future__ import annotations

from dl_cls.artifacts.runs import LoadedRun, test_shrink

# Below this shrink the weights fitted on the OOF (weighted voting, stacking) are not trusted: measured on the sample,
# whose test pages read at 0.32 of its test-like copies' keyword rate, stacking the full-class text member scored
# 0.62 test macro F1 (0.44 with the member's test probabilities ignored: the stacker leaned on it), soft voting 0.83,
# the CNNs alone 0.75; on the real competition pages (0.72 of the copies' rate) stacking the member helped (0.72 ->
# 0.77) and only the weight a clean OOF chose hurt.
TRUST_OOF_WEIGHTS = 0.5
EQUAL_WEIGHT_METHODS = ("soft", "hard")


def shrink_text_runs(runs: list[LoadedRun]) -> list[str]:
    """Temper each text run's test probabilities in place; one line per run tempered."""
    lines = []
    for run in runs:
        factor = test_shrink(run)
        if factor is None or factor >= 1.0:
            continue
        cols = run.prob_columns
        run.test[cols] = factor * run.test[cols] + (1.0 - factor) / len(cols)
        lines.append(f"{run.name}: its test pages read worse than the test-like copies its OOF was measured on; "
                     f"its test probabilities are pulled towards uniform by x{factor:.2f} (--text-shrink off: not)")
    return lines


def oof_weight_note(members: list[LoadedRun]) -> str | None:
    """One line when a text member reads so much worse on the test than on its copies that methods with weights
    fitted on the OOF are left out of the choice (they would lean on the member), else None."""
    worst = min(((f, r.name) for r in members if (f := test_shrink(r)) is not None), default=None)
    if worst is None or worst[0] >= TRUST_OOF_WEIGHTS:
        return None
    return (f"note: {worst[1]} reads its test pages at x{worst[0]:.2f} of its test-like copies (< {TRUST_OOF_WEIGHTS}): "
            f"weights fitted on the OOF would lean on it, so the method is chosen among "
            f"{'/'.join(EQUAL_WEIGHT_METHODS)} (--method forces any)")
