"""The pose step of an upright member (`pose: upright`): each page is deskewed as the OCR reader does, the pose
model (dl_cls.pose, learned from the train pages) gives a posterior over the 8 poses (4 turns x mirror), and the
member sees the page undone by each of the few poses that carry almost all of that posterior:

    p(class | x) = sum over kept poses v of p(v | x) * p(class | x undone by v)   (p(v | x) renormalised)

A page the pose model is sure of costs one forward pass; one it doubts costs two or three instead of a wrong class.
The OOF copies of fold k are posed by the pose model that did not see fold k's pages (a pose run holding every fold
out), so the OOF pays for the pose model's mistakes; the test pages of fold k's member go through that same model.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dl_cls.imaging.page_geometry import deskew, estimate_skew, orient
from dl_cls.pose.data import LABELS, label_of

# Poses are kept, most likely first, until they carry POSE_MASS of the posterior, or MAX_POSES of them. The pose
# model's label smoothing caps a sure page near 0.96, so 0.98 kept 3 views of every page (sample test pages,
# bench/upright.py); 0.9 keeps one view of 82% of them and 1.21 a page on average.
POSE_MASS = 0.9
MAX_POSES = 3


def kept_poses(posterior: np.ndarray, mass: float = POSE_MASS, most: int = MAX_POSES) -> list[int]:
    """The most likely poses of one page until they carry `mass` of its posterior (at least one, at most `most`)."""
    order = np.argsort(-posterior, kind="stable")
    cum = np.cumsum(posterior[order])
    n = int(np.searchsorted(cum, mass - 1e-9) + 1)
    return [int(v) for v in order[:max(1, min(n, most))]]


@dataclass
class PosedPages:
    """The upright views of N pages: view m is page owner[m] undone by pose label[m], for the poses kept by any
    of the pose models (keyed by fold); each model weights only the poses it kept."""
    images: np.ndarray  # (M, S, S, 3) uint8
    owner: np.ndarray  # (M,)
    label: np.ndarray  # (M,)
    posteriors: dict = field(default_factory=dict)  # key -> (N, 8)
    truth: np.ndarray | None = None  # (N,) the true pose of each page when known (test-like copies)

    @property
    def n_pages(self) -> int:
        return len(next(iter(self.posteriors.values())))

    def weights(self, key) -> np.ndarray:
        """(M,) each view's share of its page under model `key`: the posterior of the poses that model kept,
        renormalised per page."""
        post = self.posteriors[key]
        kept = {(i, v) for i in range(len(post)) for v in kept_poses(post[i])}
        w = np.array([post[i, v] if (i, v) in kept else 0.0 for i, v in zip(self.owner, self.label)])
        total = np.bincount(self.owner, weights=w, minlength=len(post))
        return w / total[self.owner]

    def mix(self, view_probs: np.ndarray, key) -> np.ndarray:
        """(M, K) class probabilities of the views -> (N, K) of the pages, mixed by model `key`'s posterior."""
        w = self.weights(key)
        out = np.zeros((self.n_pages, view_probs.shape[1]), np.float64)
        np.add.at(out, self.owner, view_probs * w[:, None])
        return out.astype(np.float32)

    def top_views(self, key) -> np.ndarray:
        """Index of each page's most likely view under model `key` (one image per page, e.g. per-epoch checks)."""
        top = self.posteriors[key].argmax(1)
        where = {(int(i), int(v)): m for m, (i, v) in enumerate(zip(self.owner, self.label))}
        return np.array([where[(i, int(top[i]))] for i in range(len(top))])

    def accuracy(self, key) -> float | None:
        """Share of pages whose most likely pose under model `key` is their true pose (None: poses unknown)."""
        if self.truth is None:
            return None
        return float((self.posteriors[key].argmax(1) == self.truth).mean())


def pose_one(img: np.ndarray, models: dict, fit, geometry: dict | None = None):
    """One page: deskewed, each model's 8-view posterior, the union of their kept poses as fitted upright views.
    `fit(page) -> (S, S, 3)` is what the member sees of an upright page; `geometry` of a test-like copy gives
    its true pose. Returns (posteriors {key: (8,)}, [(label, view)], true label or -1)."""
    skew = estimate_skew(img)
    page = deskew(img, skew)
    posts = {key: model.predict([page], tta=True)[0] for key, model in models.items()}
    labels = sorted({v for p in posts.values() for v in kept_poses(p)})
    views = [(v, fit(orient(page, *LABELS[v]))) for v in labels]
    return posts, views, (label_of(geometry, skew) if geometry else -1)


def gather(results: list) -> PosedPages:
    """pose_one's results, one per page, into a PosedPages."""
    images, owner, label = [], [], []
    for i, (_, views, _) in enumerate(results):
        for v, img in views:
            images.append(img)
            owner.append(i)
            label.append(v)
    keys = list(results[0][0]) if results else []
    posteriors = {k: np.stack([r[0][k] for r in results]) for k in keys}
    truth = np.array([r[2] for r in results])
    return PosedPages(np.stack(images), np.array(owner), np.array(label), posteriors,
                      truth if len(truth) and (truth >= 0).all() else None)


@dataclass
class PoseStep:
    """An upright member's pose models, one per fold (each held that fold out), and the test pages posed by them."""
    run_dir: Path  # the pose run (WORK/runs/orient-*)
    models: dict  # fold -> OrientationModel
    test: PosedPages | None = None
