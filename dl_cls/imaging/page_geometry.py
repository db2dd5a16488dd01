"""Page geometry on plain numpy/OpenCV: skew, deskew, turn, orient (imgstats, the profile stage and the OCR
normaliser use it).

`estimate_skew` measures the residual skew of a page: its angle modulo 90 degrees, so a page turned by
k*90 + a degrees reads as a. Deciding k (and mirroring) is left to the caller (the OCR normaliser).
"""
from __future__ import annotations

import cv2
import numpy as np

SKEW_SIDE = 512  # the long side the page is measured at (the estimates do not depend on the input's size)
_BIN_DEG = 0.25  # angle histogram bin
_REFINE_DEG = 1.5  # lines this close to the histogram mode are averaged for the final estimate


def fold_angle(deg):
    """Angle(s) modulo 90 folded into [-45, 45): 91 -> 1, 44 -> 44, 46 -> -44, -45 -> -45."""
    out = np.mod(np.asarray(deg, dtype=np.float64) + 45.0, 90.0) - 45.0
    return np.where(out >= 45.0, out - 90.0, out)  # np.mod(-1e-17, 90) rounds to 90


def _grey_at(gray: np.ndarray, long_side: int) -> np.ndarray:
    gray = np.asarray(gray)
    if gray.ndim == 3:
        gray = cv2.cvtColor(gray, cv2.COLOR_RGB2GRAY)
    if gray.dtype != np.uint8:
        raise TypeError(f"estimate_skew expects uint8, got {gray.dtype}")
    h, w = gray.shape[:2]
    s = long_side / max(h, w, 1)
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    return cv2.resize(gray, (max(1, round(w * s)), max(1, round(h * s))), interpolation=interp)


def _line_segments(g: np.ndarray) -> np.ndarray:
    """Long straight segments (N, 4) of the ink: table rules, and text lines merged into bars by a small closing."""
    # ink = darker than its neighbourhood, so grey backgrounds, dim pages and white/dark padding all work
    ink = cv2.adaptiveThreshold(g, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 25, 12)
    # an isotropic closing joins the characters of a line without favouring any direction
    bars = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    edges = cv2.Canny(bars, 50, 150)
    long_side = max(g.shape)
    lines = cv2.HoughLinesP(edges, 1, np.pi / 720, threshold=max(16, long_side // 32),
                            minLineLength=long_side / 16, maxLineGap=long_side / 100)
    if lines is None:
        return np.zeros((0, 4), np.float64)
    return np.asarray(lines, np.float64).reshape(-1, 4)  # OpenCV 5 gives (N, 4), 4.x (N, 1, 4)


def _mode_angle(angles: np.ndarray, weights: np.ndarray) -> float:
    """The dominant folded angle: a circular (period 90) weighted histogram's peak, refined by a weighted mean."""
    nbins = int(round(90 / _BIN_DEG))
    hist, edges = np.histogram(angles, bins=nbins, range=(-45.0, 45.0), weights=weights)
    kernel = np.array([1.0, 2.0, 3.0, 2.0, 1.0])
    smooth = np.convolve(np.concatenate([hist[-2:], hist, hist[:2]]), kernel, mode="valid")  # wraps at +-45
    peak = edges[int(np.argmax(smooth))] + _BIN_DEG / 2
    diff = fold_angle(angles - peak)  # circular distance to the peak
    near = np.abs(diff) <= _REFINE_DEG
    return float(fold_angle(peak + np.average(diff[near], weights=weights[near])))


def estimate_skew(gray: np.ndarray) -> float:
    """Residual skew of a document page, in degrees, in [-45, 45).

    Input: a grey uint8 page (H, W) of any size (an RGB page is converted); it is measured at long side 512.
    Output: the angle a by which the page content is turned counter-clockwise as displayed (OpenCV's
    `getRotationMatrix2D` sign), modulo 90: an upright page rotated by k*90 + a degrees returns a (folded into
    [-45, 45)), so rotating by -a makes its lines axis-parallel again. Which of the four turns it is, and mirroring,
    are not decided here. A page without straight structure (blank, a photo) returns 0.0.

    Method: long Hough segments (probabilistic Hough on the edges of the ink mask, text lines merged into bars by an
    isotropic closing), their angles folded modulo 90 and weighted by length; the peak of the circular angle
    histogram, refined by the weighted mean of the segments within 1.5 degrees of it. Table rules and text lines
    both vote, and a few stray diagonals (stamps, photos) do not move the peak.
    Validated in tests/test_profile.py: within 2 degrees on rotated sample pages.
    """
    segs = _line_segments(_grey_at(gray, SKEW_SIDE))
    if len(segs) == 0:
        return 0.0
    dx, dy = segs[:, 2] - segs[:, 0], segs[:, 3] - segs[:, 1]
    angles = fold_angle(np.degrees(np.arctan2(-dy, dx)))  # y points down in images: negate for counter-clockwise
    a = _mode_angle(angles, np.hypot(dx, dy))
    return 0.0 if a == -0.0 else a


# --- orientation normalisation: deskew, text direction, turns and mirrors ------------------------------------
# Conventions: `orientation` is the clockwise turn (0/90/180/270) applied to the deskewed page, then `mirrored`
# flips it left-right; `normalise(img, skew, orientation, mirrored)` applies all three. Paper is white, so every
# geometric step fills with white.
PAPER = 255
TURNS = (0, 90, 180, 270)


def rotate_any(img: np.ndarray, angle: float, fill: int = PAPER) -> np.ndarray:
    """Rotate counter-clockwise by `angle` degrees (OpenCV's sign); the canvas grows so no corner is cut."""
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(np.ceil(h * sin + w * cos)), int(np.ceil(h * cos + w * sin))
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    border = (fill,) * 3 if img.ndim == 3 else fill
    return cv2.warpAffine(img, m, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=border)


MIN_DESKEW_DEG = 0.3  # below this, rotating (and interpolating) costs readers more than the skew does


def deskew(img: np.ndarray, skew: float) -> np.ndarray:
    """Undo a residual skew measured by `estimate_skew` (rotate by -skew); tiny angles are left alone."""
    return img if abs(skew) < MIN_DESKEW_DEG else rotate_any(img, -skew)


def turn(img: np.ndarray, orientation: int) -> np.ndarray:
    """Turn clockwise by a multiple of 90 degrees (lossless)."""
    if orientation % 90:
        raise ValueError(f"orientation must be a multiple of 90, got {orientation}")
    return np.ascontiguousarray(np.rot90(img, k=-(orientation // 90) % 4))


def orient(img: np.ndarray, orientation: int, mirrored: bool) -> np.ndarray:
    """Turn clockwise by `orientation`, then flip left-right if `mirrored`."""
    out = turn(img, orientation)
    return np.ascontiguousarray(out[:, ::-1]) if mirrored else out


def normalise(img: np.ndarray, skew: float, orientation: int, mirrored: bool) -> np.ndarray:
    """Deskew, turn and un-mirror a page as the normaliser decided (see `candidates`)."""
    return orient(deskew(img, skew), orientation, mirrored)


def _line_score(text_ink: np.ndarray, k: int) -> float:
    """Total length of the long, thin bars a horizontal closing makes of the ink: text lines, when they run
    horizontally (characters of a line merge; lines stay apart)."""
    bars = cv2.morphologyEx(text_ink, cv2.MORPH_CLOSE, np.ones((1, k), np.uint8))
    _, _, stats, _ = cv2.connectedComponentsWithStats(bars, connectivity=8)
    w, h = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]
    long_ = (w >= 4 * h) & (w >= 3 * k)
    return float(w[long_].sum())


def text_direction(gray: np.ndarray) -> tuple[str, float]:
    """'horizontal' or 'vertical' text lines on an axis-aligned (deskewed) page, and the evidence ratio (>= 1).

    Morphology: ink = adaptive threshold; table rules (runs longer than 1/12 of the page) are removed so they do not
    vote; a closing along one axis with a gap of about one character merges the characters of a text line into a
    bar. The axis whose bars are longer in total is the text direction. A page without text says 'horizontal'.
    """
    g = _grey_at(gray, SKEW_SIDE)
    ink = cv2.adaptiveThreshold(g, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 25, 12)
    rule = max(g.shape) // 12
    rules = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((1, rule), np.uint8))
    rules |= cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((rule, 1), np.uint8))
    text_ink = cv2.subtract(ink, cv2.dilate(rules, np.ones((3, 3), np.uint8)))
    k = _char_size(text_ink)
    horizontal, vertical = _line_score(text_ink, k), _line_score(np.ascontiguousarray(text_ink.T), k)
    ratio = (max(horizontal, vertical) + 1.0) / (min(horizontal, vertical) + 1.0)
    return ("vertical" if vertical > horizontal else "horizontal"), float(ratio)


def _char_size(text_ink: np.ndarray) -> int:
    """About one character's size in pixels: the median of small ink components' larger side."""
    _, _, stats, _ = cv2.connectedComponentsWithStats(text_ink, connectivity=8)
    side = np.maximum(stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT])
    side = side[(side >= 3) & (side <= max(text_ink.shape) // 20)]
    return int(np.clip(np.median(side) if len(side) else 8, 3, 40))


# text_direction's evidence ratio below which the test is unsure and all 4 turns stay candidates. On the sample's
# family pages the ratio is either > 150 (one axis makes no bars at all) or 1-12; every wrong call was below 1.5
# (bench/ocr_orientation.py), and 5 costs the extra title reads on ~5% of pages.
UNSURE_RATIO = 5.0


def candidates(img: np.ndarray, skew: float | None = None, all_turns: bool = False):
    """The orientations left after deskew and the text-direction test: a list of (orientation, mirrored).

    Horizontal text leaves turns 0/180, vertical text 90/270, each mirrored or not (4 candidates). When the test is
    unsure (evidence ratio < UNSURE_RATIO) or `all_turns` is set, all 8 stay, the likelier direction first (a reader
    that keeps the first of equal scores then prefers it). Returns (skew, deskewed image, candidates); which
    candidate is right is for a reader (OCR) to say.
    """
    skew = estimate_skew(img) if skew is None else float(skew)
    upright = deskew(img, skew)
    direction, ratio = text_direction(upright)
    turns = (90, 270, 0, 180) if direction == "vertical" else (0, 180, 90, 270)
    if not all_turns and ratio >= UNSURE_RATIO:
        turns = turns[:2]
    return skew, upright, [(t, m) for t in turns for m in (False, True)]
