"""Our own vectorised numpy/OpenCV ops, for what albumentations cannot express and augraphy does too slowly.

Every op is `fn(img, rng, ctx, **params) -> img` on an RGB uint8 image; `rng` is a numpy Generator seeded from
(seed, source_id, copy, op), `ctx.other()` returns another (resized) train image for `overlay`.
Sizes are relative to the image so an op does the same thing at 96 px and at 512 px.

Why each exists (times on a 512-px page, 1 core, augraphy 8.2.6 — see bench/augment_speed.py):
- rotate: albumentations fixes `fill` at construction; test pages show both paper-coloured and black corners,
  so the fill is drawn per image (paper colour estimated from the page).
- rot90: albumentations' RandomRotate90 includes the identity turn, so the manifest's `ops` would lie 1/4 of
  the time; we draw k from {1, 2, 3}.
- overlay: "partly covered by another document" needs a second train image; no library op does that.
- photocopy: replaces augraphy BadPhotoCopy (150 ms median, up to 5 s): low-frequency noise mask -> dark haze,
  toner speckle and washed-out patches.
- shadow: replaces augraphy ShadowCast (50-90 ms): a soft-edged polygonal shadow darkening one side.
- faded_ink: replaces InkShifter/Letterpress-like ink loss (40-340 ms): dark strokes lightened by a smooth field.
"""
from __future__ import annotations

import inspect

import cv2
import numpy as np


def _rng_range(rng: np.random.Generator, r) -> float:
    lo, hi = (r, r) if np.isscalar(r) else r
    return float(rng.uniform(lo, hi))


def _smooth_field(rng: np.random.Generator, h: int, w: int, cells: int = 6) -> np.ndarray:
    """A smooth random field in [0, 1] of shape (h, w): a small random grid upsampled with cubic interpolation."""
    gh = max(2, int(round(cells * h / max(h, w))))
    gw = max(2, int(round(cells * w / max(h, w))))
    small = rng.random((gh, gw)).astype(np.float32)
    field = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    lo, hi = float(field.min()), float(field.max())
    return (field - lo) / (hi - lo + 1e-6)


def paper_colour(img: np.ndarray) -> np.ndarray:
    """The page's paper colour: the per-channel median of the brightest half of the border pixels."""
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]]).reshape(-1, 3)
    lum = border.mean(axis=1)
    bright = border[lum >= np.median(lum)]
    return np.median(bright, axis=0)


def rotate(img, rng, ctx, angle=(-180.0, 180.0), dark_p=0.3, dark=(0, 60), fit_p=0.5):
    """Any-angle rotation; corners filled with the paper colour or (dark_p) a dark backdrop; with probability
    fit_p the canvas grows so the whole page stays visible (scanned page on a table), else corners are cut."""
    h, w = img.shape[:2]
    a = _rng_range(rng, angle)
    if rng.random() < dark_p:
        v = float(rng.uniform(*dark))  # a dark, nearly grey backdrop (table, scanner lid)
        fill = tuple(float(np.clip(v + rng.uniform(-8, 8), 0, 255)) for _ in range(3))
    else:
        fill = tuple(float(v) for v in paper_colour(img))
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), a, 1.0)
    if rng.random() < fit_p:
        cos, sin = abs(m[0, 0]), abs(m[0, 1])
        nw, nh = int(round(h * sin + w * cos)), int(round(h * cos + w * sin))
        m[0, 2] += nw / 2.0 - w / 2.0
        m[1, 2] += nh / 2.0 - h / 2.0
        out = cv2.warpAffine(img, m, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=fill)
        s = max(h, w) / max(nh, nw)  # keep the long side, so later ops cost the same
        return cv2.resize(out, (max(1, round(nw * s)), max(1, round(nh * s))), interpolation=cv2.INTER_AREA)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=fill)


def rot90(img, rng, ctx, k=(1, 2, 3)):
    """A 90/180/270 degree turn (never the identity)."""
    return np.ascontiguousarray(np.rot90(img, int(rng.choice(k))))


def overlay(img, rng, ctx, area=(0.08, 0.3), angle=(-15.0, 15.0), shadow=0.5):
    """Cover a region touching one edge with a piece of another train image (or of this one, turned, when no
    other image is available), slightly rotated, optionally with a soft drop shadow."""
    h, w = img.shape[:2]
    other = ctx.other() if ctx is not None else None
    if other is None:
        other = np.ascontiguousarray(np.rot90(img, 2))
    frac = _rng_range(rng, area)
    aspect = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
    ph = int(np.clip(np.sqrt(frac * h * w / aspect), 8, h))
    pw = int(np.clip(ph * aspect, 8, w))
    oh, ow = other.shape[:2]
    scale = max(ph / oh, pw / ow) * float(rng.uniform(1.0, 1.6))
    other = cv2.resize(other, (max(pw, int(ow * scale)), max(ph, int(oh * scale))), interpolation=cv2.INTER_AREA)
    oy = int(rng.integers(0, other.shape[0] - ph + 1))
    ox = int(rng.integers(0, other.shape[1] - pw + 1))
    piece = other[oy : oy + ph, ox : ox + pw]
    # rotate the piece a little, with a mask so the rotated corners stay transparent
    a = _rng_range(rng, angle)
    m = cv2.getRotationMatrix2D((pw / 2.0, ph / 2.0), a, 1.0)
    piece = cv2.warpAffine(piece, m, (pw, ph), borderMode=cv2.BORDER_REPLICATE)
    mask = cv2.warpAffine(np.full((ph, pw), 255, np.uint8), m, (pw, ph), borderValue=0)
    # place it touching an edge (top, bottom, left, right), partly outside the page
    side = int(rng.integers(0, 4))
    if side in (0, 1):
        x = int(rng.integers(-pw // 3, w - 2 * pw // 3 + 1))
        y = -int(rng.integers(0, ph // 3 + 1)) if side == 0 else h - ph + int(rng.integers(0, ph // 3 + 1))
    else:
        y = int(rng.integers(-ph // 3, h - 2 * ph // 3 + 1))
        x = -int(rng.integers(0, pw // 3 + 1)) if side == 2 else w - pw + int(rng.integers(0, pw // 3 + 1))
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + pw, w), min(y + ph, h)
    if x1 <= x0 or y1 <= y0:
        return img
    out = img.astype(np.float32)
    px0, py0 = x0 - x, y0 - y
    region = (slice(y0, y1), slice(x0, x1))
    psl = (slice(py0, py0 + y1 - y0), slice(px0, px0 + x1 - x0))
    alpha = mask[psl].astype(np.float32)[..., None] / 255.0
    if rng.random() < shadow:
        k = max(3, (min(h, w) // 40) | 1)
        soft = cv2.GaussianBlur(mask, (k, k), 0)[psl].astype(np.float32)[..., None] / 255.0
        out[region] *= 1.0 - 0.35 * soft
    out[region] = out[region] * (1.0 - alpha) + piece[psl].astype(np.float32) * alpha
    return np.clip(out, 0, 255).astype(np.uint8)


def photocopy(img, rng, ctx, haze=(0.05, 0.25), speckle=(0.002, 0.02), washout=(0.0, 0.3), cells=(4, 12)):
    """Bad photocopy: a dark low-frequency haze, toner speckle in the dark areas of a noise mask, and washed-out
    patches where ink fades; vectorised stand-in for augraphy BadPhotoCopy."""
    h, w = img.shape[:2]
    f = img.astype(np.float32)
    field = _smooth_field(rng, h, w, int(rng.integers(cells[0], cells[1] + 1)))
    haze_amt = _rng_range(rng, haze)
    f *= (1.0 - haze_amt * field)[..., None]
    sp = _rng_range(rng, speckle)
    dots = (rng.random((h, w)) < sp * (0.5 + field)).astype(np.uint8) * 255
    if dots.any():
        dots = cv2.dilate(dots, np.ones((2, 2), np.uint8)) if min(h, w) >= 200 else dots
        f[dots > 0] *= float(rng.uniform(0.1, 0.5))
    wash = _rng_range(rng, washout)
    if wash > 0:
        field2 = _smooth_field(rng, h, w, 5)
        f = f + (255.0 - f) * (wash * np.clip(field2 - 0.5, 0, 1) * 2.0)[..., None]
    return np.clip(f, 0, 255).astype(np.uint8)


def shadow(img, rng, ctx, strength=(0.2, 0.6), blur=(0.05, 0.2)):
    """A soft-edged polygonal shadow (hand or page edge) over a random part of the page."""
    h, w = img.shape[:2]
    n = int(rng.integers(3, 6))
    # a polygon anchored on one side, reaching into the page
    side = int(rng.integers(0, 4))
    pts = rng.random((n, 2)) * np.array([w, h])
    reach = rng.uniform(0.2, 0.7)
    if side == 0:
        pts[:, 0] *= reach
    elif side == 1:
        pts[:, 0] = w - pts[:, 0] * reach
    elif side == 2:
        pts[:, 1] *= reach
    else:
        pts[:, 1] = h - pts[:, 1] * reach
    anchor = {0: [[0, 0], [0, h]], 1: [[w, 0], [w, h]], 2: [[0, 0], [w, 0]], 3: [[0, h], [w, h]]}[side]
    poly = np.concatenate([pts, np.array(anchor, float)])
    # the shadow is low-frequency: draw and blur it at 1/4 scale, then upsample (5x faster than full size)
    q = 4 if min(h, w) >= 64 else 1
    hull = cv2.convexHull((poly / q).astype(np.int32))
    mask = np.zeros((max(1, h // q), max(1, w // q)), np.uint8)
    cv2.fillConvexPoly(mask, hull, 255)
    k = int(max(3, _rng_range(rng, blur) * min(h, w) / q)) | 1
    soft = cv2.resize(cv2.GaussianBlur(mask, (k, k), 0), (w, h), interpolation=cv2.INTER_LINEAR)
    s = _rng_range(rng, strength)
    lut_scale = (1.0 - s * soft.astype(np.float32) / 255.0)[..., None]
    return np.clip(img * lut_scale, 0, 255).astype(np.uint8)


def faded_ink(img, rng, ctx, amount=(0.2, 0.6), cells=(3, 10)):
    """Ink lightened unevenly (low toner, faded print): dark pixels move toward the paper colour by a smooth
    random field; the paper itself is untouched."""
    h, w = img.shape[:2]
    f = img.astype(np.float32)
    paper = paper_colour(img).astype(np.float32)
    field = _smooth_field(rng, h, w, int(rng.integers(cells[0], cells[1] + 1)))
    darkness = 1.0 - f.mean(axis=2, keepdims=True) / max(float(paper.mean()), 1.0)
    t = np.clip(darkness, 0, 1) * (_rng_range(rng, amount) * field)[..., None]
    return np.clip(f + (paper - f) * t, 0, 255).astype(np.uint8)


OPS = {
    "rotate": rotate,
    "rot90": rot90,
    "overlay": overlay,
    "photocopy": photocopy,
    "shadow": shadow,
    "faded_ink": faded_ink,
}


def _params(fn) -> dict:
    """An op's own params and their defaults, from its signature (everything after img, rng, ctx)."""
    return {n: p.default for n, p in list(inspect.signature(fn).parameters.items())[3:]}


PARAMS = {name: _params(fn) for name, fn in OPS.items()}  # declared by the signatures: no second copy to keep


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def param_problem(default, value) -> str | None:
    """Why `value` cannot stand for a param whose default is `default` (None: it can). A number default takes a
    number; a tuple default a number or a list of numbers, and a [lo, hi] pair with lo <= hi if it is a pair."""
    if _number(default):
        return None if _number(value) else "expected a number"
    if not isinstance(default, tuple) or _number(value):
        return None
    if not isinstance(value, (list, tuple)) or not value or not all(_number(v) for v in value):
        return "expected a number or a list of numbers"
    if len(default) == 2 and (len(value) != 2 or value[0] > value[1]):
        return "expected [lo, hi] with lo <= hi"
    return None
