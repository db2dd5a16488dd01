"""Fold-held-out fitting: anything tuned on OOF predictions is fitted on k-1 folds and applied to the held-out
fold, so the OOF score we report for it is not the score it was fitted to."""
from __future__ import annotations

from typing import Callable

import numpy as np


def predict(probs: np.ndarray, classes) -> np.ndarray:
    """Arg-max mapped to original class indices."""
    return np.asarray(classes)[np.argmax(probs, axis=1)]


def heldout(folds: np.ndarray, fit: Callable[[np.ndarray], object],
            apply: Callable[[object, np.ndarray], np.ndarray]) -> tuple[np.ndarray, list]:
    """For each fold k: params = fit(rows not in k); out[rows in k] = apply(params, rows in k).

    fit and apply take boolean row masks; apply returns the (n_rows_in_k, K) output for those rows.
    Returns the assembled held-out output and the per-fold params (for the member table).
    """
    out, params = None, []
    for k in np.unique(folds):
        held = folds == k
        p = fit(~held)
        part = apply(p, held)
        if out is None:
            out = np.zeros((len(folds),) + part.shape[1:], dtype=float)
        out[held] = part
        params.append(p)
    return out, params
