"""Stacking: a logistic regression on the members' OOF probabilities, cross-validated over the same folds."""
from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from dl_cls.ensemble.cv import heldout

STACK_C = 1.0  # sklearn's default regularisation; the inputs are probabilities in [0, 1]


def _features(P: np.ndarray) -> np.ndarray:
    """(M, N, K) -> (N, M*K): each member's probabilities side by side."""
    return np.concatenate(list(P), axis=1)


def _fit(X, y):
    return LogisticRegression(C=STACK_C, max_iter=2000).fit(X, y)


def _proba(model, X, classes) -> np.ndarray:
    """predict_proba laid out over all classes (a training fold may lack a rare class: it gets 0)."""
    out = np.zeros((len(X), len(classes)))
    col = {c: i for i, c in enumerate(classes)}
    out[:, [col[c] for c in model.classes_]] = model.predict_proba(X)
    return out


def stack_heldout(P: np.ndarray, P_test: np.ndarray, y, folds, classes):
    """Returns (held-out OOF probs, in-sample OOF probs of the model refitted on all OOF, its test probs)."""
    X = _features(P)
    oof, _ = heldout(folds, lambda train: _fit(X[train], y[train]),
                     lambda model, held: _proba(model, X[held], classes))
    model = _fit(X, y)
    return oof, _proba(model, X, classes), _proba(model, _features(P_test), classes)
