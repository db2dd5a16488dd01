"""The test-like copies `dl-cls ocr` reads (the text runs' OOF is measured on them), fitted without labels to the
user's test pages, which are read first:

- the pose mix: the copies are turned and mirrored with the shares the reader chose for the test pages
  (dl_cls.pose.mix); on the real competition 64% of the test pages read as mirrored against 28% of the copies;
- the skew: drawn to match the test pages' residual skew as the reader measured it (imaging.testlike.fit_skew, the
  fit `dl-cls profile --fit` makes from image statistics);
- the camera (imaging.testlike.CameraConfig): while a few probe copies read more letters a page than the test pages,
  they are taken with a farther camera (fewer pixels a letter); its scale is interpolated where the probes' letters
  cross the test's. On the sample the copies read 28 letters a page, its test pages 7.2, and the text member's
  test-like OOF said 0.79 where it scored 0.34 on the test; on fitted copies (camera at 0.41) it says 0.50 and
  scores 0.46 (docs/benchmarks.md, issue 29).

Fitting reads PROBE_PAGES copies at a few camera scales, then REFINE_PAGES others at the interpolated scale (cached
like every reading); the copies are then read once with the fitted config.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import yaml

from dl_cls.core.config import config_to_dict
from dl_cls.core.io import atomic_write_text
from dl_cls.imaging.testlike import TestlikeConfig, fit_skew
from dl_cls.ocr.readability import letters_per_page
from dl_cls.ocr.table import POSE_P, TestlikePages, pose_right
from dl_cls.pose.mix import (config_mix, doubt_line, estimated_right, mix_gap, mix_lines, pose_mix, right_by_doubt,
                             with_pose_mix)

PROBE_PAGES = 48  # copies read at each probed scale (the same pages each time, spread over the classes)
# more copies, other pages, read once at the interpolated scale: 48 pages' letters a page are ~10% off the mean of
# every copy (one SE; on make demo's sample the fitted copies read 8% fewer letters than the test pages)
REFINE_PAGES = 96
MIN_TEST_PAGES = 30  # fewer test pages than this: their letters a page are too noisy to fit to
SCALES = (0.8, 0.6, 0.45, 0.35, 0.27, 0.2)  # camera scales probed, in turn, until the copies read no more letters
MORE = 1.1  # the copies read "more letters" than the test pages past this ratio
WIDTH = 0.15  # the fitted scale is drawn within +-this share of its centre


@dataclass
class CopiesFit:
    config: TestlikeConfig
    test_mix: dict
    config_mix: dict  # the pose mix the config given (or shipped) would have drawn
    test_letters: float
    camera: float | None = None  # the fitted scale's centre; None: no camera
    skew: tuple | None = None  # the fitted (skew_p, skew_sigma, skew_cap); None: as the config says
    base_skew: str = ""  # the config's, for the printed comparison
    test_skew: float = 0.0  # the test pages' median abs skew as the reader measured it
    probes: list[tuple[float, float]] = field(default_factory=list)  # (scale, letters a page) of the probe copies
    refine: tuple | None = None  # (scale, letters a page, pages) of the refining copies; None: not refined
    note: str = ""
    copies_mix: dict | None = None  # the copies' pose mix as read (rows_mix), once they are read (read_back)
    pose_by_doubt: dict | None = None  # the pose model on the copies, sure picks apart from doubted ones (read_back)

    def read_back(self, copies: pd.DataFrame) -> None:
        """What the copies' reading says: their pose mix, and how often the pose model was right on them (their pose
        is known) when it was sure and when it doubted."""
        self.copies_mix = rows_mix(copies)
        probs = copies.get(POSE_P, pd.Series(np.nan, copies.index))
        self.pose_by_doubt = right_by_doubt(pose_right(copies, copies=True), probs)

    def summary(self) -> dict:
        return {"test_pose_mix": self.test_mix, "copies_pose_mix": self.copies_mix, "config_pose_mix": self.config_mix,
                "pose_right_by_doubt": self.pose_by_doubt,
                "test_pose_right_estimated": estimated_right(self.pose_by_doubt, self.test_mix.get("doubted")),
                "pose_mix": config_mix(self.config), "test_letters": round(self.test_letters, 2),
                "camera_scale": self.camera, "skew_p_sigma_cap": list(self.skew) if self.skew else None,
                "probes": [[s, round(v, 2)] for s, v in self.probes],
                "refine": [self.refine[0], round(self.refine[1], 2), self.refine[2]] if self.refine else None,
                "note": self.note}


COPIES_CONFIG = "testlike_copies.yaml"  # written into each text run: the copies' corruption, for the CNN's validation


def write_copies_config(run_dir: Path, cfg: TestlikeConfig) -> Path:
    """The fitted corruption as a test-like YAML (a run's testlike_config, `dl-cls profile --testlike` accepts it)."""
    path = Path(run_dir) / COPIES_CONFIG
    header = ("# The test-like corruption of this text run's copies, fitted by dl-cls ocr to the test pages as read\n"
              "# (pose mix, camera; the rest as the config it started from). Usable as a training run's\n"
              "# testlike_config, so that the CNN is validated on copies posed and taken like the test pages.\n")
    atomic_write_text(path, header + yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
    return path


def probe_pages(pages: TestlikePages, targets: list[int], n: int = PROBE_PAGES) -> TestlikePages:
    """Up to n of the copies' pages, spread evenly over them in class order (every class is probed)."""
    order = np.argsort(np.asarray(targets), kind="stable")
    pick = order[np.linspace(0, len(order) - 1, min(n, len(order))).round().astype(int)]
    pick = sorted(set(pick.tolist()))
    return replace(pages, paths=tuple(pages.paths[i] for i in pick), ids=tuple(pages.ids[i] for i in pick))


def other_pages(pages: TestlikePages, targets: list[int], taken, n: int) -> TestlikePages:
    """Up to n of the pages not in `taken`, spread over the classes as probe_pages spreads them."""
    taken = set(taken)
    keep = [i for i, page_id in enumerate(pages.ids) if page_id not in taken]
    rest = replace(pages, paths=tuple(pages.paths[i] for i in keep), ids=tuple(pages.ids[i] for i in keep))
    return probe_pages(rest, [targets[i] for i in keep], n) if keep else rest


def with_camera(base: TestlikeConfig, scale: float) -> TestlikeConfig:
    c = copy.deepcopy(base)
    c.camera.p = 1.0
    c.camera.scale = [round(scale * (1 - WIDTH), 3), round(min(1.0, scale * (1 + WIDTH)), 3)]
    return c


def _crossing(probes: list[tuple[float, float]], target: float) -> float:
    """The scale where letters a page cross the target, between the last two probes (log letters: the curve is
    steep near the scale where letters stop being read)."""
    (s0, l0), (s1, l1) = probes[-2], probes[-1]
    a, b, t = np.log1p(l0), np.log1p(l1), np.log1p(target)
    frac = float(np.clip((a - t) / (a - b), 0, 1)) if a > b else 1.0
    return round(s0 + frac * (s1 - s0), 3)


def _refined(probes: list[tuple[float, float]], scale: float, target: float, letters: float, n_probe: int,
             n_more: int) -> float:
    """The scale moved along the last two probes' slope (log letters, as _crossing) by how far the pooled reading at
    `scale` misses the target: the probe pages read the target there by construction, the `n_more` refining pages
    read `letters`."""
    (s0, l0), (s1, l1) = probes[-2], probes[-1]
    slope = (np.log1p(l0) - np.log1p(l1)) / (s0 - s1)
    if not slope > 0:
        return scale
    pooled = (n_probe * target + n_more * letters) / (n_probe + n_more)
    moved = scale + (np.log1p(target) - np.log1p(pooled)) / slope
    return round(float(np.clip(moved, min(SCALES), 1.0)), 3)


def _abs_skew(rows: pd.DataFrame) -> np.ndarray:
    return np.abs(pd.to_numeric(rows["skew_deg"], errors="coerce").fillna(0).to_numpy(float))


def rows_mix(rows: pd.DataFrame) -> dict:
    """The pose mix of OCR table rows as read, with the share of pages whose pick the pose model doubted."""
    return pose_mix(rows["orientation"], rows["mirrored"], rows.get(POSE_P))


def fit_copies(base: TestlikeConfig, test_rows: pd.DataFrame, pages: TestlikePages, targets: list[int],
               read: Callable[[TestlikePages], pd.DataFrame], comparable: bool = True,
               clean_rows: pd.DataFrame | None = None) -> CopiesFit:
    """The copies' config: `base` with the test pages' pose mix, their skew as the reader measured it (with the clean
    train pages' readings `clean_rows` as the floor) and, when the copies read more letters a page than the test
    pages, a camera fitted on probe copies. `read` reads a TestlikePages' copies into table rows; `comparable`: the
    test pages are of the same classes as the copies (else no camera: their letters say nothing)."""
    test_mix = rows_mix(test_rows)
    fit = CopiesFit(base, test_mix, config_mix(base), letters_per_page(test_rows))
    fit.base_skew = f"{base.rotate.skew_p:.0%}, sigma {base.rotate.skew_sigma:g}, cap {base.rotate.skew_cap:g}"
    if len(test_rows) < MIN_TEST_PAGES:  # a handful of pages would set extreme shares (0% or 100% mirrored)
        fit.note = f"only {len(test_rows)} test pages read (at least {MIN_TEST_PAGES}): the copies are not fitted"
        return fit
    cfg = fit.config = with_pose_mix(base, test_mix)
    if clean_rows is not None and len(clean_rows):  # the train pages' own skew is the floor the drawn skew adds to
        r = cfg.rotate
        r.skew_p, r.skew_sigma, r.skew_cap = fit_skew(_abs_skew(test_rows), _abs_skew(clean_rows))
        fit.skew = (r.skew_p, r.skew_sigma, r.skew_cap)
        fit.test_skew = float(np.median(_abs_skew(test_rows)))
    if not comparable:
        fit.note = "the test pages read are of other classes than the copies: no camera fitted"
        return fit
    probe = probe_pages(replace(pages, cfg=cfg), targets)
    fit.probes.append((1.0, letters_per_page(read(probe))))
    if fit.probes[0][1] <= MORE * fit.test_letters:
        fit.note = "the copies read no more letters a page than the test pages: no camera"
        return fit
    for scale in SCALES:
        fit.probes.append((scale, letters_per_page(read(replace(probe, cfg=with_camera(cfg, scale))))))
        if fit.probes[-1][1] <= fit.test_letters:
            break
    fit.camera = _crossing(fit.probes, fit.test_letters)
    reached = fit.probes[-1][1] <= fit.test_letters
    if reached:
        _refine(fit, replace(pages, cfg=cfg), targets, probe.ids, read)
    fit.config = with_camera(cfg, fit.camera)
    fit.note = (f"camera at {fit.camera:.2f} of the pixels" if reached else
                f"even the farthest camera ({SCALES[-1]}) left the copies more letters: camera at {fit.camera:.2f}")
    if fit.refine:
        fit.note += (f" ({fit.refine[0]:.2f} from the probes; {fit.refine[2]} more copies read {fit.refine[1]:.1f} "
                     "letters a page there)")
    return fit


def _refine(fit: CopiesFit, pages: TestlikePages, targets: list[int], probed, read) -> None:
    """Read REFINE_PAGES other copies at the interpolated scale and move fit.camera by what they read (_refined)."""
    more = other_pages(pages, targets, probed, REFINE_PAGES)
    if len(more.ids) < REFINE_PAGES // 4:  # too few pages left to say more than the probes
        return
    letters = letters_per_page(read(replace(more, cfg=with_camera(pages.cfg, fit.camera))))
    fit.refine = (fit.camera, letters, len(more.ids))
    fit.camera = _refined(fit.probes, fit.camera, fit.test_letters, letters, len(probed), len(more.ids))


def fit_lines(fit: CopiesFit, copies_read: pd.DataFrame | None = None) -> list[str]:
    """What dl-cls ocr prints: the pose mix of the test pages, of the copies as read (fit.copies_mix; and as the given
    config would have drawn them), the skew (`copies_read`: the copies' rows) and the camera fit."""
    mixes = {"test pages": fit.test_mix}
    if fit.copies_mix:
        mixes["test-like copies"] = fit.copies_mix
    mixes["unfitted config"] = fit.config_mix
    lines = ["pose mix as read (the pose model's pick; the copies are posed like the test pages):"] + mix_lines(mixes)
    if "test-like copies" in mixes:
        gap = 100 * mix_gap(mixes["test-like copies"], fit.test_mix)
        lines.append(f"  largest gap, copies vs test pages: {gap:.0f} points")
        warning = doubt_line(fit.test_mix, mixes["test-like copies"])
        if warning:
            lines.append(warning)
    estimate = estimated_right(fit.pose_by_doubt, fit.test_mix.get("doubted"))
    if estimate is not None:
        (sure, n_sure), (doubted, n_doubted) = fit.pose_by_doubt["sure"], fit.pose_by_doubt["doubted"]
        lines.append(f"  pose right on the copies: {sure:.0%} of {n_sure} sure picks, {doubted:.0%} of {n_doubted} "
                     f"doubted; so about {estimate:.0%} of the test pages ({fit.test_mix['doubted']:.0%} doubted; "
                     "label-free)")
    if fit.skew:
        seen = ("" if copies_read is None or not len(copies_read) else
                f", copies {np.median(_abs_skew(copies_read)):.1f}")
        lines.append(f"skew (median abs deg as the reader deskewed them): test pages {fit.test_skew:.1f}{seen}; drawn "
                     f"for {fit.skew[0]:.0%} of the copies, sigma {fit.skew[1]:g}, cap {fit.skew[2]:g} (the config "
                     f"said {fit.base_skew})")
    probes = ", ".join(f"x{s:g}: {v:.1f}" for s, v in fit.probes)
    lines.append(f"letters a page: test pages {fit.test_letters:.1f}" + (f"; probe copies by camera scale {probes}"
                                                                           if probes else "") + f"; {fit.note}")
    return lines
