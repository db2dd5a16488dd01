"""The pose mix of a set of pages (the share of each quarter turn and of mirrored pages, as the reader or the pose
model found them) and the test-like corruption whose copies have the test pages' mix.

Why: on the real competition the pose model read 64% of the test pages as mirrored and their turns as uniform, but
the shipped corruption mirrors 28% of its copies and leaves 36% upright; every doubtful pose goes through the pose
step, so copies posed unlike the test under-test it where the test is hardest. The mix is label-free: the poses are
the ones chosen for the pages, right on ~94-99% of them, and copies and test pages are read by the same model.
"""
from __future__ import annotations

import copy

import numpy as np

from dl_cls.imaging.testlike import TestlikeConfig

TURNS = (0, 90, 180, 270)  # the `orientation` a page is turned by to stand upright (page_geometry.orient)
# a pick below this probability is doubted: the pages `--pose-sure 0.9` reads 2-3 poses of (their pick was right on
# 88% of such copies of the competition-size sample). The share doubted, test pages against copies, says whether
# the copies test the pose step as hard as the test pages do, and what reading those pages' other poses would cost
DOUBTED_BELOW = 0.9
DOUBT_GAP = 0.05  # the test pages doubted more than the copies by more than this: a warning (sample: 17% vs 12%)


def pose_mix(orientation, mirrored, pose_p=None) -> dict:
    """{"pages": n, "turns": shares of TURNS, "mirrored": share, "doubted": share} of pages read with these poses;
    `pose_p`, the pose model's probability of each pick (NaN where unknown), gives the share it doubted among the
    pages where it is known (None where it is known for none)."""
    o = np.asarray(orientation, dtype=float).astype(int) % 360
    m = np.asarray(mirrored).astype(str)
    mirrored_share = float(np.isin(np.char.lower(m), ("true", "1", "1.0")).mean()) if len(m) else 0.0
    turns = [float((o == t).mean()) if len(o) else 0.0 for t in TURNS]
    p = np.asarray([] if pose_p is None else pose_p, dtype=float)
    p = p[np.isfinite(p)]
    doubted = round(float((p < DOUBTED_BELOW).mean()), 4) if len(p) else None
    return {"pages": int(len(o)), "turns": [round(t, 4) for t in turns], "mirrored": round(mirrored_share, 4),
            "doubted": doubted}


def with_pose_mix(base: TestlikeConfig, mix: dict) -> TestlikeConfig:
    """`base` with the quarter turns and mirroring of `mix`: turn k (np.rot90's sense, undone by orientation 90k)
    drawn with the share of orientation 90k, mirrored (a left-right flip) with the mirrored share. The upside-down
    flip is folded into them (it is a mirror and a half turn), so it is off."""
    c = copy.deepcopy(base)
    turns = np.asarray(mix["turns"], float)
    turns = turns / turns.sum() if turns.sum() > 0 else np.full(4, 0.25)
    shares = [round(float(t), 4) for t in turns[:3]]
    c.turn_p = shares + [round(1.0 - sum(shares), 4)]  # rounded, still summing to 1
    c.flip_h_p, c.flip_v_p = round(float(mix["mirrored"]), 4), 0.0
    return c


def config_mix(c: TestlikeConfig) -> dict:
    """The pose mix a corruption config gives (before the deskew and the reader's errors): what a copy's pose is
    drawn from. Mirrored = one flip of the two; a vertical flip adds a half turn."""
    pv, ph = c.flip_v_p, c.flip_h_p
    turns = [(1 - pv) * c.turn_p[k] + pv * c.turn_p[(k - 2) % 4] for k in range(4)]
    return {"pages": 0, "turns": [round(t, 4) for t in turns], "mirrored": round(ph * (1 - pv) + pv * (1 - ph), 4)}


def mix_gap(a: dict, b: dict) -> float:
    """The largest difference between two mixes, in share points (0..1): any turn or the mirrored share."""
    return float(max([abs(x - y) for x, y in zip(a["turns"], b["turns"])] + [abs(a["mirrored"] - b["mirrored"])]))


def mix_lines(mixes: dict[str, dict]) -> list[str]:
    """A small table: one row per kind of page, the share of each turn, of mirrored pages and of pages whose pick
    the pose model doubted ("-" where unknown)."""
    lines = [f"  {'pages':<17} {'n':>5} " + " ".join(f"{t:>5}" for t in ("0", "90", "180", "270"))
             + f"  mirrored  doubted (p < {DOUBTED_BELOW:g})"]
    for name, m in mixes.items():
        n = f"{m['pages']:>5}" if m.get("pages") else f"{'':>5}"
        doubted = f"{m['doubted']:>7.0%}" if m.get("doubted") is not None else f"{'-':>7}"
        lines.append(f"  {name:<17} {n} " + " ".join(f"{t:>5.0%}" for t in m["turns"]) + f"  {m['mirrored']:>8.0%}"
                     f"  {doubted}")
    return lines


def right_by_doubt(right, pose_p) -> dict | None:
    """The pose model's accuracy on pages whose pose is known (the copies), apart from the picks it was sure of and
    those it doubted: {"sure": [share right, n], "doubted": [share right, n]} (share None where n is 0); None
    where no probability is known."""
    right, p = np.asarray(right, bool), np.asarray(pose_p, float)
    known = np.isfinite(p)
    if not known.any():
        return None
    doubted = known & (p < DOUBTED_BELOW)
    out = {}
    for name, rows in (("sure", known & ~doubted), ("doubted", doubted)):
        out[name] = [round(float(right[rows].mean()), 4) if rows.any() else None, int(rows.sum())]
    return out


def estimated_right(by_doubt: dict | None, doubted_share: float | None) -> float | None:
    """The share of pages whose pose is right, estimated without labels: the copies' accuracy on sure and on doubted
    picks (right_by_doubt) weighted by these pages' doubted share. None when either is unknown."""
    if by_doubt is None or doubted_share is None or None in (by_doubt["sure"][0], by_doubt["doubted"][0]):
        return None
    return round((1 - doubted_share) * by_doubt["sure"][0] + doubted_share * by_doubt["doubted"][0], 4)


def doubt_line(test: dict, copies: dict) -> str | None:
    """A warning when the pose model doubts more of the test pages than of the copies (by more than DOUBT_GAP): the
    copies then test the pose step less hard than the test does, and the text runs' figures may overstate the test.
    None when either share is unknown or they are close."""
    a, b = test.get("doubted"), copies.get("doubted")
    if a is None or b is None or a - b <= DOUBT_GAP:
        return None
    return (f"  the pose model doubts {a:.0%} of the test pages but {b:.0%} of the copies: the copies test the pose "
            "step less hard than the test does, so the text runs' figures may overstate the test; `--pose-sure 0.9` "
            "reads a doubted page's other poses too (more reads)")
