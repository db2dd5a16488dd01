"""Specialists: class-subset runs that refine the ensemble inside their class group G.

Rule, per row: if the ensemble's top class is in G (or, with a mass threshold, its total probability on G is at
least that), the ensemble's mass on G is kept and redistributed inside G by
    (1 - w) * ensemble's own distribution inside G + w * specialist's probabilities,
so the probability of classes outside G never changes, and rows the rule does not select never change.
The blend weight w is tuned on OOF macro F1 over a grid, fold-held-out (see cv.heldout); w = 0 (no change)
wins ties.

A specialist only has OOF predictions for the train IDs whose class is in G (it never saw the others); the other
OOF rows are left as the ensemble had them. Such a row is wrong either way, so this can only change which class
of G takes the false positive.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score

from dl_cls.artifacts.runs import macro_f1
from dl_cls.ensemble.cv import heldout, predict

BLEND_GRID = np.linspace(0.0, 1.0, 11)


def refine(E: np.ndarray, S: np.ndarray, group: list[int], w: float, mass_threshold: float | None = None) -> np.ndarray:
    """E: (N, K) ensemble probs over all classes; S: (N, len(group)) specialist probs, NaN rows = no prediction."""
    G = np.asarray(group)
    mass = E[:, G].sum(axis=1)
    selected = np.isin(E.argmax(axis=1), G)
    if mass_threshold is not None:
        selected |= mass >= mass_threshold
    selected &= np.isfinite(S).all(axis=1) & (mass > 0)
    out = E.copy()
    within = E[selected][:, G] / mass[selected, None]
    out[np.ix_(selected, G)] = mass[selected, None] * ((1 - w) * within + w * S[selected])
    return out


def group_f1(y, probs, group) -> dict[int, float]:
    pred = predict(probs, range(probs.shape[1]))
    scores = f1_score(y, pred, labels=list(group), average=None, zero_division=0)
    return dict(zip(map(int, group), map(float, scores)))


def tune_and_refine(E, E_test, S, S_test, group, y, folds, mass_threshold=None):
    """Blend weight fitted on k-1 folds and applied to the held-out one; refitted on all OOF for the test set.

    Returns (refined held-out OOF, refined test, w fitted on all OOF, per-fold w).
    """
    classes = range(E.shape[1])
    refined = {w: refine(E, S, group, w, mass_threshold) for w in BLEND_GRID}

    def fit(rows):
        scores = [macro_f1(y[rows], predict(refined[w][rows], classes)) for w in BLEND_GRID]
        return float(BLEND_GRID[int(np.argmax(scores))])

    oof, per_fold = heldout(folds, fit, lambda w, held: refined[w][held])
    w_all = fit(np.ones(len(y), bool))
    return oof, refine(E_test, S_test, group, w_all, mass_threshold), w_all, per_fold
