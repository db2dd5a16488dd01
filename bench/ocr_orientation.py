"""Orientation recovery of the OCR normaliser on known turns x mirrors, and its seconds per image.

Pages: the first `--per-class` train images of each class of the form family {3,4,7,14} of the embedded sample
(generated into a temp dir, or `--data DIR`). Each page is mirrored or not, turned clockwise by 0/90/180/270 and
skewed by a random angle in +-`--skew` degrees (seeded), then `read_document` (deskew, text-direction test, OCR of
the title band of each candidate, full page of the winner) must say the turn and mirror that undo it.
Default: 8 pages x 4 turns x 2 mirrors = 64 cases. Run it alone on the machine: the seconds are wall time, one
process, one OCR thread.

    python bench/ocr_orientation.py [--data DIR] [--per-class 2] [--skew 8] [--all-turns] [--seed 0]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from dl_cls.core.io import read_image
from dl_cls.data.sample import generate_sample
from dl_cls.imaging.page_geometry import TURNS, orient, rotate_any
from dl_cls.ocr.engine import TesseractEngine
from dl_cls.ocr.read import ReadSettings, read_document

FAMILY = (3, 4, 7, 14)
PROBE = np.arange(6).reshape(2, 3)


def undone(turned: int, mirrored: bool, row: dict) -> bool:
    """Whether the reader's (orientation, mirrored) undoes `mirror, then turn clockwise by turned` (on a probe)."""
    seen = orient(orient(PROBE, 0, mirrored), turned, False)
    fixed = orient(seen, row["orientation"], row["mirrored"])
    return fixed.shape == PROBE.shape and bool((fixed == PROBE).all())


def pages(data: Path, per_class: int) -> list[tuple[int, str]]:
    train = pd.read_csv(data / "train.csv")
    return [(t, i) for t in FAMILY for i in train.loc[train["target"] == t, "ID"].head(per_class)]


def run(data: Path, args) -> int:
    settings = ReadSettings(all_turns=args.all_turns)
    engine = TesseractEngine("kor+eng", invert_lines=settings.invert_lines)
    engine.check()
    rng, good, total, seconds, misses = np.random.default_rng(args.seed), 0, 0, 0.0, []
    for target, image_id in pages(data, args.per_class):
        page = read_image(data / "train" / image_id)
        for turned in TURNS:
            for mirrored in (False, True):
                angle = float(rng.uniform(-args.skew, args.skew))
                seen = rotate_any(orient(orient(page, 0, mirrored), turned, False), angle)
                t0 = time.perf_counter()
                row = read_document(seen, engine, settings)
                seconds += time.perf_counter() - t0
                ok = undone(turned, mirrored, row)
                good, total = good + ok, total + 1
                if not ok:
                    misses.append(f"class {target} {image_id} turned {turned} mirrored {mirrored} skew {angle:+.1f}"
                                  f" -> read as ({row['orientation']}, {row['mirrored']}), title {row['title'][:30]!r}")
    print("\n".join(f"miss: {m}" for m in misses))
    print(f"orientation recovered: {good}/{total} = {good / total:.1%}; {seconds / total:.2f} s per image "
          f"({engine.version()}, 4 candidates{' -> 8' if args.all_turns else ' (8 when the direction test is unsure)'})")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=None, help="a sample data dir (default: a new `dl-cls sample`)")
    p.add_argument("--per-class", type=int, default=2)
    p.add_argument("--skew", type=float, default=8.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--all-turns", action="store_true")
    args = p.parse_args(argv)
    if args.data is not None:
        return run(args.data, args)
    with tempfile.TemporaryDirectory() as tmp:
        return run(generate_sample(Path(tmp) / "sample"), args)


if __name__ == "__main__":
    sys.exit(main())
