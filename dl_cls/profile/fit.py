"""Propose a test-like corruption config from unlabelled test images, by matching their measured statistics.

Each parameter is fitted from the statistic that identifies it, against a clean reference folder (train):
quarter turns from the sideways share, skew (share, sigma, cap) from the residual-skew distribution, canvas growth
from the frame-size share, dark fill from the dark-padding share, grey scans from the near-grey share, lighting
(the bias: a brightness shift) from the mean-grey quantiles, grain and blur from fine noise and Laplacian variance by
simulating them on reference pages. Mirroring and upside-down turns are not measurable from pixel statistics: with
`--pose-model` the orientation model's picks on the test images set them (profile/cli.py, dl_cls.pose.mix), else
they are kept from the base config, as are crop, overlap, lighting gain and gamma, the colour cast, the
probabilities of blur and grain.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd

from dl_cls.core.io import encode_image, read_image
from dl_cls.imaging import imgstats
from dl_cls.imaging.testlike import (BlurConfig, LightingConfig, NoiseConfig, TestlikeConfig, blur, fit_skew, grain,
                                     lighting, skew_draws, skew_rotate)

QUANTILES = [10, 25, 50, 75, 90]


@dataclass
class Fitted:
    config: TestlikeConfig
    notes: list[tuple[str, str, str]]  # (parameter, value, from what)


def _turns(base: TestlikeConfig, sideways: float) -> list[float]:
    """Sideways share -> 90/270; the upright/upside-down split keeps the base config's ratio (not measurable)."""
    p0, _, p180, _ = base.turn_p
    a = p0 / (p0 + p180) if p0 + p180 > 0 else 1.0
    half = round(float(np.clip(sideways, 0, 1)) / 2, 4)
    p0 = round((1 - 2 * half) * a, 4)
    return [p0, half, round(1 - p0 - 2 * half, 4), half]  # rounded so the four still sum to 1


def _fit_skew(test: pd.DataFrame, ref: pd.DataFrame) -> tuple[float, float, float]:
    floor = ref["skew_abs"].to_numpy(float) if len(ref) else np.zeros(1)
    return fit_skew(test["skew_abs"].to_numpy(float), floor)


def _grey_hists(paths: list[str], rotate) -> np.ndarray:
    """Grey histograms of the reference pages after the (fitted) skew and fill: lighting applies to the fill too."""
    hists = []
    for i, p in enumerate(paths):
        page = skew_rotate(imgstats.to_side(read_image(p)), np.random.default_rng(i), rotate)
        hists.append(np.bincount(imgstats.grey(page).ravel(), minlength=256))
    return np.stack(hists).astype(np.float64)


def _fit_lighting(test: pd.DataFrame, hists: np.ndarray, base: TestlikeConfig) -> float:
    """The bias centre (gain, gamma and the widths kept) whose simulated median mean grey matches the test's.
    Only the shift is fitted: on mostly-white pages gain and bias trade off, and a joint fit wanders."""
    L = base.lighting
    rng = np.random.default_rng(0)
    k = len(hists)
    u = rng.random((3, k))
    lit = rng.random(k) < L.p
    x = np.arange(256) / 255.0
    target = np.percentile(test["mean_grey"], QUANTILES)
    gain = L.gain[0] + (L.gain[1] - L.gain[0]) * u[0]
    gamma = L.gamma[0] + (L.gamma[1] - L.gamma[0]) * u[2]
    bw = (L.bias[1] - L.bias[0]) / 2

    def loss(bc):
        bias = bc - bw + 2 * bw * u[1]
        lut = np.clip(255 * x[None, :] ** gamma[:, None] * gain[:, None] + bias[:, None], 0, 255)
        means = (hists * np.where(lit[:, None], lut, 255 * x[None, :])).sum(1) / hists.sum(1)
        # the median decides; the other quantiles only break ties (the base widths may not fit the spread)
        diff = np.abs(np.percentile(means, QUANTILES) - target)
        return float(diff[QUANTILES.index(50)] + 0.05 * diff.mean())

    return float(min(np.arange(-100, 100.1, 1.0), key=loss))


def _pages(paths: list[str], n: int) -> list[np.ndarray]:
    """Up to n reference pages (RGB), spread over the list."""
    pick = np.linspace(0, len(paths) - 1, min(n, len(paths))).round().astype(int)
    # native size: the corruption runs there and the statistics resize afterwards (which smooths grain)
    return [read_image(paths[i]) for i in pick]


def _simulate(pages, base: TestlikeConfig, std: float, sigma: float, light: LightingConfig,
              jpeg: int | None = None) -> tuple[float, float]:
    """Median fine noise and Laplacian variance of the pages after skew (its interpolation softens too), lighting,
    blur (sigma) and grain (std); the shares p of blur and noise as in `base` (the first round(p*n) pages)."""
    n = len(pages)
    nb, nn = round(base.blur.p * n), round(base.noise.p * n)
    mads, laps = [], []
    for i, page in enumerate(pages):
        rng = np.random.default_rng(i)
        g = lighting(skew_rotate(page, rng, base.rotate), rng, light)  # paper level matters: grain clips at 255
        if i < nb and sigma > 0:
            g = blur(g, rng, BlurConfig(p=1, sigma=[sigma, sigma]))
        if i < nn and std > 0:
            g = grain(g, rng, NoiseConfig(p=1, std=[std, std], grain=list(base.noise.grain)))
        if jpeg:  # a JPEG test set lost some grain and fine detail when it was saved
            bgr = cv2.imdecode(np.frombuffer(encode_image(g, ".jpg", quality=jpeg), np.uint8), cv2.IMREAD_COLOR)
            g = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        grey = imgstats.grey(g)
        mads.append(imgstats.fine_noise(grey))
        laps.append(imgstats.laplacian_variance(grey))
    return float(np.median(mads)), float(np.median(laps))


def _invert(grid, values, target: float) -> float:
    """The grid point where a (roughly monotone) simulated statistic crosses the target, linearly interpolated."""
    grid, values = np.asarray(grid, float), np.asarray(values, float)
    order = np.argsort(values)
    return float(np.interp(target, values[order], grid[order]))


def _fit_blur_noise(test: pd.DataFrame, pages, base: TestlikeConfig, light: LightingConfig,
                    jpeg: int | None) -> tuple[float, float]:
    """Grain std first (blur at the base centre: fine noise barely sees a mild blur), then blur sigma with that
    grain (the Laplacian sees both). Coarse grids, the crossing interpolated: each point is a full simulation."""
    mad_t, lap_t = float(test["noise_mad"].median()), float(test["lap_var"].median())
    sigma0 = float(np.mean(base.blur.sigma))
    stds = [0, 1, 2, 3, 4, 6, 8, 11, 16]
    std = _invert(stds, [_simulate(pages, base, s, sigma0, light, jpeg)[0] for s in stds], mad_t)
    sigmas = [0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5]
    laps = [np.log(_simulate(pages, base, std, b, light, jpeg)[1] + 1) for b in sigmas]
    return round(std, 2), round(_invert(sigmas, laps, np.log(lap_t + 1)), 2)


def _grey_after_lighting(pages, c: TestlikeConfig) -> float:
    """Share of reference pages that read near-grey after the (fitted) lighting alone: brightening clips the paper
    to white and lowers saturation, so not every near-grey test image was a grey scan."""
    n_lit = round(c.lighting.p * len(pages))
    lit = [lighting(p, np.random.default_rng(i), c.lighting) if i < n_lit else p for i, p in enumerate(pages)]
    return float(np.mean([imgstats.saturation(p) < imgstats.GREY_SAT for p in lit]))


def _share(d: pd.DataFrame, fn) -> float:
    return float(np.mean(fn(d))) if len(d) else 0.0


def fit_config(test: pd.DataFrame, ref: pd.DataFrame, ref_paths: list[str], base: TestlikeConfig,
               pages: int = 16, jpeg: int | None = None) -> Fitted:
    """Fit the measurable parameters of `base` to the test folder's statistics (ref = clean reference folder).
    `jpeg`: the quality the test images were saved at, if JPEG (the simulations save theirs the same way)."""
    c = copy.deepcopy(base)
    notes = []
    side = _share(test, lambda d: d["sideways"]) - _share(ref, lambda d: d["sideways"])
    c.turn_p = _turns(base, max(side, 0.0))
    notes.append(("turn_p", str(c.turn_p), f"sideways share {_share(test, lambda d: d['sideways']):.3f}"))
    c.rotate.skew_p, c.rotate.skew_sigma, c.rotate.skew_cap = _fit_skew(test, ref)
    notes.append(("rotate.skew_p/sigma/cap", f"{c.rotate.skew_p} / {c.rotate.skew_sigma} / {c.rotate.skew_cap}",
                  f"abs skew median {test['skew_abs'].median():.1f}, p90 {np.percentile(test['skew_abs'], 90):.1f}"))
    match_t, match_r = _share(test, lambda d: d["frame_match"]), max(_share(ref, lambda d: d["frame_match"]), 1e-6)
    c.rotate.expand_p = round(float(np.clip(1 - match_t / match_r, 0, 1)), 3)
    notes.append(("rotate.expand_p", str(c.rotate.expand_p), f"frame = reference size {match_t:.3f} vs {match_r:.3f}"))
    dark = _share(test, lambda d: d["dark_padding"] > 0.01) - _share(ref, lambda d: d["dark_padding"] > 0.01)
    visible = max(float(np.mean(skew_draws(c.rotate.skew_p, c.rotate.skew_sigma, c.rotate.skew_cap,
                                            np.zeros(1)) > 2.0)), 0.05)  # skews whose dark corners show
    c.rotate.white_fill_p = round(float(np.clip(1 - max(dark, 0) / visible, 0, 1)), 3)
    notes.append(("rotate.white_fill_p", str(c.rotate.white_fill_p), f"excess dark-padded share {dark:.3f}"))
    bc = _fit_lighting(test, _grey_hists(ref_paths, c.rotate), base)
    bw = (base.lighting.bias[1] - base.lighting.bias[0]) / 2
    c.lighting.bias = [bc - bw, bc + bw]
    gc = float(np.mean(c.lighting.gain))
    notes.append(("lighting.bias", str(c.lighting.bias),
                  f"mean grey median {test['mean_grey'].median():.0f} vs {ref['mean_grey'].median():.0f}"))
    sample_pages = _pages(ref_paths, pages)
    g_t, g_lit = _share(test, lambda d: d["saturation"] < imgstats.GREY_SAT), _grey_after_lighting(sample_pages, c)
    c.lighting.grey_p = round(float(np.clip((g_t - g_lit) / max(1 - g_lit, 1e-6), 0, 1)), 3)
    notes.append(("lighting.grey_p", str(c.lighting.grey_p),
                  f"near-grey share {g_t:.3f} vs {g_lit:.3f} of lit colour reference pages"))
    centre = LightingConfig(p=1, gain=[gc, gc], bias=[bc, bc], gamma=[float(np.mean(c.lighting.gamma))] * 2, cast=0)
    std, sigma = _fit_blur_noise(test, sample_pages, c, centre, jpeg)  # c: the fitted skew
    c.noise.std = [round(std * 0.5, 2), round(std * 1.5, 2)]
    bw2 = (base.blur.sigma[1] - base.blur.sigma[0]) / 2
    c.blur.sigma = [round(max(0.0, sigma - bw2), 2), round(sigma + bw2, 2)]
    notes.append(("noise.std", str(c.noise.std), f"fine noise median {test['noise_mad'].median():.2f}"))
    notes.append(("blur.sigma", str(c.blur.sigma), f"Laplacian variance median {test['lap_var'].median():.0f}"))
    return Fitted(c, notes)
