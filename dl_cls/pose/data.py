"""Labelled examples for the page-orientation model, made from the train pages themselves (upright and unmirrored
by definition): each page is corrupted test-like, deskewed exactly as the OCR reader deskews (page_geometry), and
labelled with the (orientation, mirrored) that `page_geometry.orient` needs to bring it upright again.

No torch here: this module runs in the spawned generator processes, which should start fast.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from dl_cls.core.io import read_image
from dl_cls.imaging.page_geometry import PAPER, deskew, estimate_skew, fold_angle, orient, turn
from dl_cls.imaging.testlike import TestlikeConfig, corrupt_testlike, testlike_rng

# (orientation, mirrored) in page_geometry.orient's convention: turn the deskewed page clockwise by `orientation`
# degrees, then flip it left-right if `mirrored`. Column i of a prediction is LABELS[i].
LABELS: list[tuple[int, bool]] = [(0, False), (90, False), (180, False), (270, False),
                                  (0, True), (90, True), (180, True), (270, True)]


def label_of(geometry: dict, skew_est: float) -> int:
    """The LABELS index that brings upright a page corrupted with `geometry` (corrupt_testlike's flip_h, flip_v,
    turn, skew_deg) and then deskewed by `skew_est` (page_geometry.estimate_skew's angle).

    Flips come first: flip_v = flip_h then a half turn, so mirrored = flip_h xor flip_v and flip_v adds 2 quarter
    turns. The turn that is left after deskewing is the corruption's rotation minus the estimate (all
    counter-clockwise), rounded to quarter turns: a deskew that lands on the wrong side of 45 degrees turns the
    page by a quarter, and the label says so. orient() turns clockwise, so it undoes q counter-clockwise quarter
    turns with orientation 90*q."""
    residual = 90.0 * int(geometry["turn"]) + float(geometry["skew_deg"]) - float(skew_est)
    flip_h, flip_v = bool(geometry["flip_h"]), bool(geometry["flip_v"])
    q = (int(np.round(residual / 90.0)) + 2 * flip_v) % 4
    return LABELS.index((90 * q, flip_h != flip_v))


def deskew_error(geometry: dict, skew_est: float) -> float:
    """Degrees the deskewed page is still off an axis (0 = perfect deskew, 45 = the worst)."""
    return float(abs(fold_angle(90.0 * int(geometry["turn"]) + float(geometry["skew_deg"]) - float(skew_est))))


def upright(view: np.ndarray, label: int) -> np.ndarray:
    """A view labelled `label`, brought upright (orient with that label)."""
    return orient(view, *LABELS[label])


def view_as(page: np.ndarray, label: int) -> np.ndarray:
    """The inverse: the view of an upright page that `label` brings upright (un-mirror, then turn back)."""
    orientation, mirrored = LABELS[label]
    out = np.ascontiguousarray(page[:, ::-1]) if mirrored else page
    return turn(out, (360 - orientation) % 360)


def _compose_table() -> np.ndarray:
    """C[L, v]: the label of view_as(x, v) for a page x whose label is L (the 8 poses form a group; found by
    trying every label on an asymmetric probe instead of deriving the algebra by hand)."""
    probe = np.arange(6).reshape(2, 3)
    table = np.zeros((len(LABELS), len(LABELS)), int)
    for lab in range(len(LABELS)):
        for v in range(len(LABELS)):
            seen = view_as(view_as(probe, lab), v)
            table[lab, v] = next(k for k in range(len(LABELS))
                                 if (fixed := orient(seen, *LABELS[k])).shape == probe.shape and (fixed == probe).all())
    return table


COMPOSE = _compose_table()


def views(x: np.ndarray) -> np.ndarray:
    """The 8 views of one model input (S, S): view v is view_as(x, v)."""
    return np.stack([view_as(x, v) for v in range(len(LABELS))])


def tta_average(view_probs: np.ndarray) -> np.ndarray:
    """(8 views, 8 labels) probabilities of the 8 views of one page -> (8,) over the page's own labels: label L of
    the page is label COMPOSE[L, v] of view v; the views' probabilities of it are averaged."""
    out = np.array([view_probs[np.arange(len(LABELS)), COMPOSE[lab]].mean() for lab in range(len(LABELS))])
    return out / out.sum()


def prepare(page: np.ndarray, size: int) -> np.ndarray:
    """The model's input: grey uint8 (size, size), the page's long side at `size` and its aspect ratio kept
    (portrait vs landscape is evidence), centred on white paper. Square, so a quarter turn keeps the shape."""
    g = cv2.cvtColor(page, cv2.COLOR_RGB2GRAY) if page.ndim == 3 else np.asarray(page)
    h, w = g.shape[:2]
    s = size / max(h, w, 1)
    nh, nw = max(1, min(size, round(h * s))), max(1, min(size, round(w * s)))
    small = cv2.resize(g, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    out = np.full((size, size), PAPER, np.uint8)
    y0, x0 = (size - nh) // 2, (size - nw) // 2
    out[y0:y0 + nh, x0:x0 + nw] = small
    return out


@dataclass
class Example:
    """One corrupted, deskewed train page: its model input brought upright (so training can show it in any of the
    8 views with the matching label), the label of the view the reader would see, and what may explain an error."""
    page_id: str
    copy: int
    x_upright: np.ndarray  # (size, size) uint8
    label: int
    skew_deg: float  # the corruption's skew
    deskew_error: float


def make_example(img: np.ndarray, page_id: str, copy: int, seed: int, other: np.ndarray | None,
                 cfg: TestlikeConfig | None, size: int) -> Example:
    """Corrupt a train page test-like with a generator derived from (seed, page, copy), deskew it as the reader
    does, label it. The same arguments give the same example whatever the process or order."""
    rng = testlike_rng(seed, f"orientation/{page_id}/{copy}")
    geometry: dict = {}
    seen = corrupt_testlike(img, rng, other=other, cfg=cfg, geometry=geometry)
    skew = estimate_skew(seen)
    label = label_of(geometry, skew)
    x = upright(prepare(deskew(seen, skew), size), label)
    return Example(page_id, copy, x, label, float(geometry["skew_deg"]), deskew_error(geometry, skew))


def page_examples(job: tuple) -> list[Example]:
    """A worker's job: every copy of one page, (path, page_id, [(copy, other_path or None)], seed, cfg, size)."""
    path, page_id, copies, seed, cfg, size = job
    img = read_image(path)
    out = []
    for copy, other_path in copies:
        other = read_image(other_path) if other_path else None
        out.append(make_example(img, page_id, copy, seed, other, cfg, size))
    return out
