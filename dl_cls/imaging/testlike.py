"""The fixed test-like degradation: what the competition's test images look like, in plain numpy/OpenCV.

Used twice: to render the sample dataset's test set, and by the trainer to build a seeded, test-like copy of each
fold's validation images (the score that should predict the leaderboard). Both need it fast (a few ms for a 320 px
image) and deterministic given the generator, so it avoids albumentations/augraphy and their global random state.

Its parameters are a typed config (`TestlikeConfig`, file `configs/testlike/default.yaml`), calibrated to the
profile of the real test set; `dl-cls profile --fit` proposes one for another test set.
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from dl_cls.core.config import CONFIG_DIR, load_config
from dl_cls.core.errors import DlClsError
from dl_cls.core.io import read_image
from dl_cls.imaging.page_geometry import fold_angle

DEFAULT_CONFIG = CONFIG_DIR / "testlike" / "default.yaml"
REF_SIDE = 512  # pixel sizes in the config (blur sigma, grain) are at this long side


@dataclass
class RotateConfig:
    skew_p: float = 0.75
    skew_sigma: float = 15.0
    skew_cap: float = 35.0
    jitter_sigma: float = 0.5
    expand_p: float = 0.05
    white_fill_p: float = 0.95
    white_fill: list[int] = field(default_factory=lambda: [235, 255])
    dark_fill: list[int] = field(default_factory=lambda: [0, 70])


@dataclass
class CropConfig:
    p: float = 0.15
    max_frac: float = 0.1


@dataclass
class LightingConfig:
    p: float = 0.9
    gain: list[float] = field(default_factory=lambda: [0.9, 1.1])
    bias: list[float] = field(default_factory=lambda: [0.0, 30.0])
    gamma: list[float] = field(default_factory=lambda: [0.8, 1.0])
    cast: float = 0.01
    grey_p: float = 0.3


@dataclass
class BlurConfig:
    p: float = 0.9
    sigma: list[float] = field(default_factory=lambda: [0.15, 0.6])


@dataclass
class NoiseConfig:
    p: float = 0.8
    std: list[float] = field(default_factory=lambda: [2.0, 6.0])
    grain: list[float] = field(default_factory=lambda: [2.0, 4.0])


@dataclass
class CameraConfig:
    """A phone held farther away: the page is taken at `scale` of its pixels (letters cover fewer of them), saved
    as JPEG and sharpened back to the frame. Off in the shipped calibration (p 0); `dl-cls ocr` fits `scale` so that
    its test-like copies read as few letters as the user's test pages (the sample's test camera, data/photo.py, is
    this at scale 0.28-0.42)."""
    p: float = 0.0
    scale: list[float] = field(default_factory=lambda: [0.28, 0.42])
    jpeg: list[int] = field(default_factory=lambda: [60, 75])
    sharpen: list[float] = field(default_factory=lambda: [2.5, 3.0])  # unsharp-mask amount (the phone's)


@dataclass
class TestlikeConfig:
    """Every knob of corrupt_testlike; configs/testlike/default.yaml documents each key."""

    __test__ = False  # not a pytest test class despite the name
    overlap_p: float = 0.03
    flip_h_p: float = 0.25
    flip_v_p: float = 0.1
    turn_p: list[float] = field(default_factory=lambda: [0.37, 0.24, 0.15, 0.24])
    rotate: RotateConfig = field(default_factory=RotateConfig)
    crop: CropConfig = field(default_factory=CropConfig)
    lighting: LightingConfig = field(default_factory=LightingConfig)
    blur: BlurConfig = field(default_factory=BlurConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)

    def __post_init__(self):
        _check_config(self)


def _check_config(c: TestlikeConfig) -> None:
    """Ranges are [low, high] pairs and probabilities lie in [0, 1]; turn_p has four shares summing to 1."""
    probs = {"overlap_p": c.overlap_p, "flip_h_p": c.flip_h_p, "flip_v_p": c.flip_v_p, "rotate.skew_p": c.rotate.skew_p,
             "rotate.expand_p": c.rotate.expand_p, "rotate.white_fill_p": c.rotate.white_fill_p, "crop.p": c.crop.p,
             "lighting.p": c.lighting.p, "lighting.grey_p": c.lighting.grey_p, "blur.p": c.blur.p, "noise.p": c.noise.p,
             "camera.p": c.camera.p}
    problems = [f"{k} must be in [0, 1], got {v}" for k, v in probs.items() if not 0 <= v <= 1]
    ranges = {"rotate.white_fill": c.rotate.white_fill, "rotate.dark_fill": c.rotate.dark_fill,
              "lighting.gain": c.lighting.gain, "lighting.bias": c.lighting.bias, "lighting.gamma": c.lighting.gamma,
              "blur.sigma": c.blur.sigma, "noise.std": c.noise.std, "noise.grain": c.noise.grain,
              "camera.scale": c.camera.scale, "camera.jpeg": c.camera.jpeg, "camera.sharpen": c.camera.sharpen}
    problems += [f"{k} must be [low, high], got {v}" for k, v in ranges.items() if len(v) != 2 or v[0] > v[1]]
    if not 0 < c.camera.scale[0] <= 1 or not 0 < c.camera.scale[-1] <= 1:
        problems.append(f"camera.scale must lie in (0, 1], got {c.camera.scale}")
    if len(c.turn_p) != 4 or min(c.turn_p, default=0) < 0 or abs(sum(c.turn_p) - 1) > 1e-6:
        problems.append(f"turn_p must be four shares (0/90/180/270) summing to 1, got {c.turn_p}")
    if problems:
        raise DlClsError("test-like config: " + "; ".join(problems))


def load_testlike_config(path: str | Path | None = None, overrides: list[str] | dict | None = None) -> TestlikeConfig:
    """The corruption config from a YAML file (default: configs/testlike/default.yaml) plus key=value overrides.
    An unknown or mistyped key is a DlClsError naming the file and the key."""
    path = DEFAULT_CONFIG if path is None else Path(path)
    try:
        return load_config(TestlikeConfig, path, overrides)
    except DlClsError as exc:
        msg = str(exc)
        raise DlClsError(msg if msg.startswith(str(path)) else f"{path}: {msg}") from None


def config_key(c: TestlikeConfig) -> dict:
    """The config as the identity of what it makes (a pose model, cached OCR copies): every key, but the camera
    only when it is on, so runs and caches made before it existed keep their names."""
    d = asdict(c)
    if c.camera.p == 0:
        del d["camera"]
    return d


@functools.lru_cache(maxsize=1)
def default_config() -> TestlikeConfig:
    """The shipped calibration, read once per process (callers that pass no config get this). Shared: to change
    it, `copy.deepcopy` it or load with overrides."""
    return load_testlike_config()


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


def _uniform(rng: np.random.Generator, pair) -> float:
    return float(rng.uniform(pair[0], pair[1]))


def _scale(img: np.ndarray) -> float:
    """Pixel sizes in the config are at long side 512: scale them to this image."""
    return max(img.shape[:2]) / REF_SIDE


def _turn(img: np.ndarray, rng: np.random.Generator, c: TestlikeConfig, geometry: dict) -> np.ndarray:
    """A quarter turn k*90 (np.rot90: counter-clockwise) as a scanner or phone gives it: the frame's w/h swap,
    nothing is padded."""
    k = int(rng.choice(4, p=np.asarray(c.turn_p, np.float64)))
    geometry["turn"] = k
    return np.ascontiguousarray(np.rot90(img, k)) if k else img


def _skew_angle(rng: np.random.Generator, r: RotateConfig) -> float:
    if rng.random() < r.skew_p:
        return float(np.clip(rng.normal(0, r.skew_sigma), -r.skew_cap, r.skew_cap))
    return float(rng.normal(0, r.jitter_sigma))


def skew_rotate(img: np.ndarray, rng: np.random.Generator, r: RotateConfig, geometry: dict | None = None) -> np.ndarray:
    """Skew within the frame (corners cut, filled) or, rarely, on a canvas grown to hold the whole page."""
    angle = _skew_angle(rng, r)
    if geometry is not None:
        geometry["skew_deg"] = angle  # cv2's sense: counter-clockwise, as np.rot90
    expand = rng.random() < r.expand_p
    if rng.random() < r.white_fill_p:
        fill = tuple(int(v) for v in np.full(3, rng.integers(r.white_fill[0], r.white_fill[1] + 1)))
    else:
        fill = tuple(int(v) for v in np.full(3, rng.integers(r.dark_fill[0], r.dark_fill[1] + 1)))
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
    nw, nh = w, h
    if expand:
        cos, sin = abs(m[0, 0]), abs(m[0, 1])
        nw, nh = max(1, int(np.ceil(h * sin + w * cos))), max(1, int(np.ceil(h * cos + w * sin)))
        m[0, 2] += nw / 2.0 - w / 2.0
        m[1, 2] += nh / 2.0 - h / 2.0
    return cv2.warpAffine(img, m, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=fill)


def skew_draws(p: float, sigma: float, cap: float, floor: np.ndarray, n: int = 4000) -> np.ndarray:
    """Abs residual skew the corruption would give: a reference page's own skew (`floor`, abs degrees), plus the
    drawn skew for a share p. Fixed draws (seeded) so a fit is deterministic and its distance smooth in the
    parameters."""
    rng = np.random.default_rng(0)
    own = rng.choice(floor, n) * rng.choice([-1.0, 1.0], n)
    drawn = np.clip(rng.standard_normal(n) * sigma, -cap, cap) * (rng.random(n) < p)
    return np.abs(fold_angle(own + drawn))


def _w1(a: np.ndarray, b: np.ndarray) -> float:
    """Wasserstein-1 distance on 5..95% quantiles: the bulk and the tail both count (a KS distance sees the bulk)."""
    q = np.arange(5, 96, 5)
    return float(np.abs(np.percentile(a, q) - np.percentile(b, q)).mean())


def fit_skew(target: np.ndarray, floor: np.ndarray) -> tuple[float, float, float]:
    """(skew_p, skew_sigma, skew_cap) whose draws, on reference pages with their own abs skew `floor`, best match
    the abs residual skew `target` of the test pages (dl-cls profile --fit from image statistics, dl-cls ocr from
    the reader's deskew angles)."""
    target = np.asarray(target, float)
    floor = np.asarray(floor, float) if len(floor) else np.zeros(1)
    cap = float(min(44.0, max(5.0, np.ceil(np.percentile(target, 99)))))
    best = min(((_w1(skew_draws(p, s, cap, floor), target), p, s) for p in np.arange(0.0, 1.001, 0.05)
                for s in np.arange(1.0, 30.01, 1.0)), key=lambda t: t[0])
    return round(float(best[1]), 2), float(best[2]), cap


def _crop(img: np.ndarray, rng: np.random.Generator, c: CropConfig) -> np.ndarray:
    """Cut up to max_frac off some sides, then zoom back to the frame (the test set keeps its frame sizes)."""
    h, w = img.shape[:2]
    if h < 8 or w < 8:
        return img
    t, b, l, r = np.where(rng.random(4) < 0.5, rng.uniform(0, c.max_frac, 4), 0.0).tolist()
    y0, y1 = int(h * t), h - int(h * b)
    x0, x1 = int(w * l), w - int(w * r)
    return cv2.resize(np.ascontiguousarray(img[y0:y1, x0:x1]), (w, h), interpolation=cv2.INTER_LINEAR)


def lighting(img: np.ndarray, rng: np.random.Generator, c: LightingConfig) -> np.ndarray:
    """Gain, bias (brightening), gamma and a slight per-channel cast in one lookup table per channel."""
    gain, bias, gamma = _uniform(rng, c.gain), _uniform(rng, c.bias), _uniform(rng, c.gamma)
    x = np.arange(256, dtype=np.float32) / 255.0
    base = 255.0 * np.power(x, gamma)
    cast = rng.uniform(1 - c.cast, 1 + c.cast, 3)
    lut = np.stack([np.clip(base * gain * k + bias, 0, 255) for k in cast], axis=1).astype(np.uint8)
    return cv2.LUT(img, lut.reshape(256, 1, 3))


def _to_grey(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)


def blur(img: np.ndarray, rng: np.random.Generator, c: BlurConfig) -> np.ndarray:
    sigma = _uniform(rng, c.sigma) * _scale(img)
    if min(img.shape[:2]) < 4 or sigma <= 0:
        return img
    return cv2.GaussianBlur(img, (0, 0), sigmaX=sigma)


def grain(img: np.ndarray, rng: np.random.Generator, c: NoiseConfig) -> np.ndarray:
    """Grey grain in clumps of `grain` px: white noise drawn on a coarser grid and smoothly upsampled, then
    rescaled to the drawn std; the same on every channel (a sensor's luminance grain, not colour speckle)."""
    h, w = img.shape[:2]
    std, grain = _uniform(rng, c.std), max(1.0, _uniform(rng, c.grain) * _scale(img))
    gh, gw = max(1, round(h / grain)), max(1, round(w / grain))
    noise = cv2.resize(rng.standard_normal((gh, gw), dtype=np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    noise *= np.float32(std / max(float(noise.std()), 1e-6))
    return np.clip(img.astype(np.float32) + noise[..., None], 0, 255).astype(np.uint8)


def camera(img: np.ndarray, rng: np.random.Generator, c: CameraConfig) -> np.ndarray:
    """The far camera (CameraConfig): fewer pixels a letter, JPEG, then the phone's unsharp mask, which puts edge
    contrast back but not the lost detail."""
    h, w = img.shape[:2]
    f = _uniform(rng, c.scale)
    small = cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(c.jpeg[0], c.jpeg[1] + 1))])
    small = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if ok else small
    out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    amount = _uniform(rng, c.sharpen)
    out = out + np.float32(amount) * (out - cv2.GaussianBlur(out, (0, 0), 1.2))
    return np.clip(out, 0, 255).astype(np.uint8)


def corrupt_testlike(img: np.ndarray, rng: np.random.Generator, other: np.ndarray | None = None,
                     cfg: TestlikeConfig | None = None, geometry: dict | None = None) -> np.ndarray:
    """Degrade a clean document image like the competition's test set. RGB uint8 in, RGB uint8 out, same long side.

    Order follows the physical story: the camera (when on) takes the page, another sheet may lie on the document,
    it is flipped, turned and skewed on the scanner (frame kept), the scan is cropped, then lighting (possibly a
    grey scan), blur and grain.
    `cfg` defaults to configs/testlike/default.yaml. Every random choice comes from rng, so the same generator
    state and config give the same output. `geometry`, when given, receives the page's pose: flip_h, flip_v
    (applied first), turn (quarter turns, np.rot90's sense) and skew_deg (then; counter-clockwise): the free
    labels of the orientation model and the sample's test truth.
    """
    c = default_config() if cfg is None else cfg
    geometry = {} if geometry is None else geometry
    out = _as_rgb(img)
    long_side = max(out.shape[:2])
    if c.camera.p > 0 and rng.random() < c.camera.p:  # drawn only when on: the shipped copies stay as they were
        out = camera(out, rng, c.camera)
    if other is not None and rng.random() < c.overlap_p:
        out = _overlap(out, other, rng)
    geometry["flip_h"] = bool(rng.random() < c.flip_h_p)
    if geometry["flip_h"]:
        out = out[:, ::-1]
    geometry["flip_v"] = bool(rng.random() < c.flip_v_p)
    if geometry["flip_v"]:
        out = out[::-1, :]
    out = skew_rotate(_turn(np.ascontiguousarray(out), rng, c, geometry), rng, c.rotate, geometry)
    if rng.random() < c.crop.p:
        out = _crop(out, rng, c.crop)
    out = _resize_long(np.ascontiguousarray(out), long_side)
    if rng.random() < c.lighting.grey_p:
        out = _to_grey(out)
    if rng.random() < c.lighting.p:
        out = lighting(out, rng, c.lighting)
    if rng.random() < c.blur.p:
        out = blur(out, rng, c.blur)
    if rng.random() < c.noise.p:
        out = grain(out, rng, c.noise)
    return np.ascontiguousarray(out, dtype=np.uint8)


def testlike_copy(paths: list[str], ids: list[str], i: int, seed: int, cfg: TestlikeConfig | None = None,
                  geometry: dict | None = None) -> np.ndarray:
    """The fixed, seeded test-like copy of image i of a list (the trainer's test-like validation, the OCR's
    test-like train pages): its generator comes from (seed, ID); the sheet that may lie on it is another image of
    the same list, so nothing from outside the list leaks in."""
    n = len(paths)
    rng = testlike_rng(seed, ids[i])
    other = read_image(paths[(i + 1 + int(rng.integers(n - 1))) % n]) if n > 1 else None
    return corrupt_testlike(read_image(paths[i]), rng, other=other, cfg=cfg, geometry=geometry)
