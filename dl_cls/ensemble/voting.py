"""Voting over members' probability tables P with shape (M members, N rows, K classes)."""
from __future__ import annotations

import numpy as np

from dl_cls.artifacts.runs import macro_f1
from dl_cls.core.progress import Progress
from dl_cls.ensemble.cv import heldout, predict

N_RANDOM_WEIGHTS = 200  # Dirichlet draws tried by fit_weights, besides uniform and each member alone


def soft_vote(P: np.ndarray) -> np.ndarray:
    return P.mean(axis=0)


def hard_vote(P: np.ndarray) -> np.ndarray:
    """Majority of the members' arg-max; ties broken by summed probability.

    Returned as scores (votes + mean probability) / (M + 1): rows sum to 1, and since the mean probability of
    any class is < 1 more than another's unless it won every vote, the arg-max is the majority class, and among
    tied classes the one with the larger summed probability.
    """
    M, _, K = P.shape
    votes = np.eye(K)[P.argmax(axis=2)].sum(axis=0)  # (N, K) vote counts
    return (votes + P.mean(axis=0)) / (M + 1)


def weighted_vote(P: np.ndarray, w: np.ndarray) -> np.ndarray:
    return np.tensordot(w, P, axes=1) / w.sum()


def candidate_weights(M: int, seed: int = 0) -> np.ndarray:
    """Uniform first (it wins ties), then each member alone, then seeded random points of the simplex."""
    rng = np.random.default_rng(seed)
    return np.vstack([np.full(M, 1 / M), np.eye(M), rng.dirichlet(np.ones(M), N_RANDOM_WEIGHTS)])


def fit_weights(P: np.ndarray, y: np.ndarray, classes, rows: np.ndarray, candidates: np.ndarray,
                bar: Progress | None = None) -> np.ndarray:
    """The candidate weight vector with the best macro F1 on the given rows (first one on ties)."""
    scores = []
    for w in candidates:
        scores.append(macro_f1(y[rows], predict(weighted_vote(P[:, rows], w), classes)))
        if bar is not None:
            bar.update(1)
    return candidates[int(np.argmax(scores))]


def weighted_heldout(P: np.ndarray, y, folds, classes, seed: int = 0):
    """Weights fitted on k-1 folds, applied to the held-out fold; then refitted on all OOF for the test set.

    Returns (held-out OOF probs, weights fitted on all OOF, per-fold weights).
    """
    cands = candidate_weights(P.shape[0], seed)
    fits = len(cands) * (len(np.unique(folds)) + 1)  # one search per held-out fold, one on all OOF
    with Progress(fits, "weight search", unit="fits") as bar:
        oof, per_fold = heldout(folds, lambda train: fit_weights(P, y, classes, train, cands, bar),
                                lambda w, held: weighted_vote(P[:, held], w))
        w_all = fit_weights(P, y, classes, np.ones(len(y), bool), cands, bar)
    return oof, w_all, per_fold
