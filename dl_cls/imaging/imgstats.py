"""Per-image statistics that tell a test set from a train set (a lower layer: numpy/OpenCV only).

Each estimator is a small function on one image measured at long side 512 (grey unless it is about colour), so
numbers from folders of different resolutions compare. `measure(rgb)` runs them all and returns one row; the
profile stage (dl_cls.profile) runs it over folders and compares the distributions. Frame size is a folder-level
statistic (does this image's size occur in the reference set?) and lives in the profile stage.

Not measured: pasted pieces of other documents. No estimator tried here tells a pasted piece from a page's own
photo box, table block or stamp reliably enough to report a share, so the table leaves that row out.
"""
from __future__ import annotations

import cv2
import numpy as np

from dl_cls.imaging.page_geometry import estimate_skew

SIDE = 512  # every statistic is measured at this long side
NEAR_BLACK = 40  # grey level at or below which a pixel counts as near-black
DARK_PAD = 80  # padding is darker than this ...
FLAT_STD = 4.0  # ... and flatter than this (local std, grey levels)
GREY_SAT = 8.0  # an image whose mean saturation is below this counts as near-grey

STAT_NAMES = ["skew_abs", "skew", "sideways", "lap_var", "noise_mad", "mean_grey", "near_black", "dark_padding",
              "saturation", "cast"]


def to_side(img: np.ndarray, side: int = SIDE, dtype=np.uint8) -> np.ndarray:
    """Resize so the long side is `side` (area interpolation down, linear up), as `dtype`."""
    img = np.asarray(img).astype(dtype, copy=False)
    h, w = img.shape[:2]
    s = side / max(h, w, 1)
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    return cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=interp)


def grey(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    return rgb if rgb.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(rgb[..., :3]), cv2.COLOR_RGB2GRAY)


def residual_skew(g: np.ndarray) -> float:
    """Signed residual skew in degrees, [-45, 45) (angle modulo 90); see dl_cls.imaging.page_geometry.estimate_skew."""
    return estimate_skew(g)


def sideways(g: np.ndarray, skew: float | None = None) -> bool:
    """True when the text lines run vertically (the page is turned 90 or 270 degrees).

    After deskewing, text lines make the ink-per-row profile swing at the line pitch; across the lines (per
    column) the profile is smooth. Compared: the profile's energy above a 12 px smoothing, rows vs columns."""
    g = to_side(g)
    skew = estimate_skew(g) if skew is None else skew
    ink = cv2.adaptiveThreshold(g, 1, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 25, 12).astype(np.float32)
    h, w = ink.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), -skew, 1.0)
    ink = cv2.warpAffine(ink, m, (w, h), borderValue=0)
    return _line_energy(ink.mean(axis=0)) > _line_energy(ink.mean(axis=1))


def _line_energy(profile: np.ndarray) -> float:
    smooth = cv2.GaussianBlur(profile.reshape(-1, 1).astype(np.float64), (1, 0), sigmaX=0, sigmaY=6).ravel()
    return float(np.mean((profile - smooth) ** 2))


def laplacian_variance(g: np.ndarray) -> float:
    """Sharpness: variance of the Laplacian of the grey page at long side 512 (blur lowers it, noise raises it)."""
    return float(cv2.Laplacian(to_side(g), cv2.CV_64F).var())


def fine_noise(g: np.ndarray) -> float:
    """Pixel noise on the paper: mean |grey - its 3x3 median| over flat pixels, at long side 512 (float).

    Flat = the median-filtered page varies less than FLAT_STD in a 5x5 window, so strokes and edges (which a
    median filter also changes) do not count; a page with almost no flat area falls back to all pixels."""
    f = to_side(g, dtype=np.float32)
    med = cv2.medianBlur(f, 3)
    dev = np.abs(f - med)
    mean = cv2.blur(med, (5, 5))
    flat = np.sqrt(np.maximum(cv2.blur(med * med, (5, 5)) - mean * mean, 0)) < 2 * FLAT_STD
    return float(dev[flat].mean() if flat.sum() >= 100 else dev.mean())


def mean_grey(g: np.ndarray) -> float:
    return float(to_side(g).mean())


def near_black(g: np.ndarray) -> float:
    """Share of pixels at or below grey 40."""
    return float((to_side(g) <= NEAR_BLACK).mean())


def dark_padding(g: np.ndarray) -> float:
    """Share of the area that is dark, flat and connected to the border: the canvas a rotation filled dark.

    A dark photo or dark paper also counts (the sample's car dashboard is dark and flat at its edges)."""
    g = to_side(g)
    f = g.astype(np.float32)
    mean = cv2.blur(f, (5, 5))
    std = np.sqrt(np.maximum(cv2.blur(f * f, (5, 5)) - mean * mean, 0))
    mask = ((g < DARK_PAD) & (std < FLAT_STD)).astype(np.uint8)
    n, labels = cv2.connectedComponents(mask, connectivity=4)
    if n <= 1:
        return 0.0
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    border = border[border > 0]
    return float(np.isin(labels, border).mean())


def saturation(rgb: np.ndarray) -> float:
    """Mean HSV saturation (0-255); a grey scan reads ~0."""
    rgb = to_side(rgb)
    if rgb.ndim == 2:
        return 0.0
    return float(cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1].mean())


def background_cast(rgb: np.ndarray) -> float:
    """Colour of the paper: max - min channel of the mean colour of the brightest quarter of pixels (grey levels)."""
    rgb = to_side(rgb)
    if rgb.ndim == 2:
        return 0.0
    g = grey(rgb)
    paper = rgb[g >= np.percentile(g, 75)].astype(np.float64).mean(axis=0)
    return float(paper.max() - paper.min())


def measure(rgb: np.ndarray) -> dict:
    """Every per-image statistic of STAT_NAMES, plus the frame (h, w), for one RGB (or grey) uint8 image."""
    rgb = np.asarray(rgb)
    h, w = rgb.shape[:2]
    small = to_side(rgb)
    g = grey(small)
    skew = residual_skew(g)
    return {"h": h, "w": w, "skew_abs": abs(skew), "skew": skew, "sideways": float(sideways(g, skew)),
            "lap_var": laplacian_variance(g), "noise_mad": fine_noise(g), "mean_grey": mean_grey(g),
            "near_black": near_black(g), "dark_padding": dark_padding(g), "saturation": saturation(small),
            "cast": background_cast(small)}
