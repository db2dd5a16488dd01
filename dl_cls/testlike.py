"""The fixed test-like degradation: what the competition's test images look like, in plain numpy/OpenCV.

Used twice: to render the sample dataset's test set, and by the trainer to build a seeded, test-like copy of each
fold's validation images (the score that should predict the leaderboard). Both need it fast (a few ms for a 320 px
image) and deterministic given the generator, so it avoids albumentations/augraphy and their global random state.
"""
from __future__ import annotations

import hashlib

import cv2
import numpy as np


def testlike_rng(seed: int, image_id: str) -> np.random.Generator:
    """A generator derived from (seed, image ID) with a stable hash, so a corruption does not depend on order,
    worker count or Python's per-process hash randomisation."""
    digest = hashlib.sha256(f"{int(seed)}:{image_id}".encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _as_rgb(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.dtype != np.uint8:
        raise TypeError(f"corrupt_testlike expects uint8, got {img.dtype}")
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    if img.ndim == 3 and img.shape[2] == 3:
        return img
    raise ValueError(f"corrupt_testlike expects an RGB image (H, W, 3), got shape {img.shape}")


def _resize_long(img: np.ndarray, long_side: int) -> np.ndarray:
    h, w = img.shape[:2]
    if max(h, w) == long_side:
        return img
    s = long_side / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    return cv2.resize(img, size, interpolation=interp)


def _overlap(img: np.ndarray, other: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Another document lying on top of this one, covering a corner or an edge strip (10-35% of the area)."""
    h, w = img.shape[:2]
    if h < 4 or w < 4:
        return img
    other = _resize_long(_as_rgb(other), max(h, w))
    oh, ow = other.shape[:2]
    ph = max(2, int(h * rng.uniform(0.25, 0.6)))
    pw = max(2, int(w * rng.uniform(0.25, 0.6)))
    ph, pw = min(ph, oh), min(pw, ow)
    sy, sx = int(rng.integers(0, oh - ph + 1)), int(rng.integers(0, ow - pw + 1))
    piece = other[sy : sy + ph, sx : sx + pw]
    if rng.random() < 0.3:  # the other sheet may lie upside down
        piece = piece[::-1, ::-1]
    top = rng.random() < 0.5
    left = rng.random() < 0.5
    y0 = 0 if top else h - ph
    x0 = 0 if left else w - pw
    out = img.copy()
    out[y0 : y0 + ph, x0 : x0 + pw] = piece
    # a thin shadow along the covering sheet's inner edges so it reads as a separate sheet
    shade = int(rng.integers(40, 120))
    ey = y0 + ph if top else y0 - 1
    ex = x0 + pw if left else x0 - 1
    if 0 <= ey < h:
        out[ey, x0 : x0 + pw] = shade
    if 0 <= ex < w:
        out[y0 : y0 + ph, ex] = shade
    return out


def _rotate(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Any-angle rotation; the canvas grows so no corner is cut, filled white (scanner lid) or dark (table)."""
    u = rng.random()
    if u < 0.2:
        angle = rng.normal(0, 2.0)  # nearly upright
    elif u < 0.6:
        angle = 90.0 * int(rng.integers(1, 4)) + rng.normal(0, 4.0)  # sideways / upside down
    else:
        angle = rng.uniform(0, 360)  # arbitrary
    if rng.random() < 0.5:
        fill = (255, 255, 255) if rng.random() < 0.5 else tuple(int(v) for v in rng.integers(225, 256, 3))
    else:
        fill = tuple(int(v) for v in np.full(3, rng.integers(0, 70)))
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), float(angle), 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw = max(1, int(np.ceil(h * sin + w * cos)))
    nh = max(1, int(np.ceil(h * cos + w * sin)))
    m[0, 2] += nw / 2.0 - w / 2.0
    m[1, 2] += nh / 2.0 - h / 2.0
    return cv2.warpAffine(img, m, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=fill)


def _crop(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Cut up to 18% off some sides, as a careless scan or photo does."""
    h, w = img.shape[:2]
    if h < 8 or w < 8:
        return img
    t, b, l, r = np.where(rng.random(4) < 0.5, rng.uniform(0, 0.18, 4), 0.0).tolist()
    y0, y1 = int(h * t), h - int(h * b)
    x0, x1 = int(w * l), w - int(w * r)
    return img[y0:y1, x0:x1]


def _lighting(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Brightness, contrast, gamma and a slight colour cast in one lookup table per channel (dim or bright)."""
    if rng.random() < 0.5:  # dim
        gain, bias, gamma = rng.uniform(0.45, 0.9), rng.uniform(-50, 0), rng.uniform(1.0, 1.8)
    else:  # bright / washed out
        gain, bias, gamma = rng.uniform(0.8, 1.25), rng.uniform(0, 45), rng.uniform(0.55, 1.0)
    x = np.arange(256, dtype=np.float32) / 255.0
    base = 255.0 * np.power(x, gamma)
    cast = rng.uniform(0.9, 1.1, 3)
    lut = np.stack([np.clip(base * gain * c + bias, 0, 255) for c in cast], axis=1).astype(np.uint8)
    return cv2.LUT(img, lut.reshape(256, 1, 3))


def _blur(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if min(img.shape[:2]) < 4:
        return img
    if rng.random() < 0.6:
        return cv2.GaussianBlur(img, (0, 0), sigmaX=float(rng.uniform(0.5, 1.8)))
    k = int(rng.integers(3, 8)) | 1  # motion blur: a line kernel at a random angle
    kernel = np.zeros((k, k), np.float32)
    kernel[k // 2, :] = 1.0
    rot = cv2.getRotationMatrix2D(((k - 1) / 2.0, (k - 1) / 2.0), float(rng.uniform(0, 180)), 1.0)
    kernel = cv2.warpAffine(kernel, rot, (k, k))
    kernel /= max(kernel.sum(), 1e-6)
    return cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_REPLICATE)


def _noise(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    std = rng.uniform(3, 22)
    noise = rng.standard_normal(img.shape, dtype=np.float32) * np.float32(std)
    if rng.random() < 0.5:  # luminance noise: the same on every channel
        noise[..., 1] = noise[..., 0]
        noise[..., 2] = noise[..., 0]
    return np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def corrupt_testlike(img: np.ndarray, rng: np.random.Generator, other: np.ndarray | None = None) -> np.ndarray:
    """Degrade a clean document image like the competition's test set. RGB uint8 in, RGB uint8 out, same long side.

    Order follows the physical story: another sheet lies on the document, it is flipped/rotated on the scanner
    (canvas expanded), the scan is cropped, then the camera adds lighting, blur and noise.
    Every random choice comes from rng, so the same generator state gives the same output.
    """
    img = _as_rgb(img)
    long_side = max(img.shape[:2])
    out = img
    if other is not None and rng.random() < 0.4:
        out = _overlap(out, other, rng)
    if rng.random() < 0.25:
        out = out[:, ::-1]
    if rng.random() < 0.15:
        out = out[::-1, :]
    if rng.random() < 0.85:
        out = _rotate(np.ascontiguousarray(out), rng)
    if rng.random() < 0.35:
        out = _crop(out, rng)
    out = _resize_long(np.ascontiguousarray(out), long_side)
    if rng.random() < 0.8:
        out = _lighting(out, rng)
    if rng.random() < 0.5:
        out = _blur(out, rng)
    if rng.random() < 0.75:
        out = _noise(out, rng)
    return np.ascontiguousarray(out, dtype=np.uint8)
