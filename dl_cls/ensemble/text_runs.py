"""Text members and experts (dl-cls ocr runs) in an ensemble: their OOF was measured on test-like copies, which can
read better than the user's test pages. The OCR stage measures that gap without labels and records `test_shrink`
(dl_cls.ocr.readability) in the run's summary.json; here a text run's test probabilities are pulled towards uniform
by that factor, so a blend or stack weighs it less on the test than its OOF chose (for a linear blend on
probabilities this is exactly the weight times the factor)."""
from __future__ import annotations

import json

from dl_cls.artifacts.runs import LoadedRun


def shrink_text_runs(runs: list[LoadedRun]) -> list[str]:
    """Temper each text run's test probabilities in place; one line per run tempered."""
    lines = []
    for run in runs:
        factor = _factor(run)
        if factor is None or factor >= 1.0:
            continue
        cols = run.prob_columns
        run.test[cols] = factor * run.test[cols] + (1.0 - factor) / len(cols)
        lines.append(f"{run.name}: its test pages read worse than the test-like copies its OOF was measured on; "
                     f"its test probabilities are pulled towards uniform by x{factor:.2f} (--text-shrink off: not)")
    return lines


def _factor(run: LoadedRun) -> float | None:
    if run.config.kind != "ocr":
        return None
    try:
        return float(json.loads((run.path / "summary.json").read_text(encoding="utf-8"))["test_shrink"])
    except (OSError, ValueError, KeyError, TypeError):  # a run written before the readability figures
        return None
