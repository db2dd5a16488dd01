"""OCR speed and accuracy per reader setting, on the family's train pages and their test-like copies.

Pages: the first `--per-class` train images of each class of the form family {3,4,7,14} of a data dir (default: a
new `dl-cls sample`), clean (upright by definition) and their seeded test-like copies (the same ones `dl-cls ocr`
validates the expert on; their pose is known). Each setting reads every page with `read_document` in this one
process, one OCR thread, so run it alone on the machine. The first row is the baseline (the OCR decides the pose
among the text-direction candidates, as before the orientation model); every other row prints its seconds per
page as a ratio to it, measured in the same run.

    python bench/ocr_speed.py [--data DIR] [--work DIR] [--per-class 6] [--only 0,2,3]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from dl_cls.data.contract import load_data
from dl_cls.data.sample import generate_sample
from dl_cls.io import read_image
from dl_cls.ocr.engine import TesseractEngine
from dl_cls.ocr.expert import load_keyword_file, rule_class
from dl_cls.ocr.orient_data import LABELS, label_of
from dl_cls.ocr.orient_model import load_orientation, train_orientation
from dl_cls.ocr.read import ReadSettings, read_document
from dl_cls.ocr.table import TestlikePages

FAMILY = [3, 4, 7, 14]
# (name, uses the orientation model, reader settings)
SETTINGS = [
    ("before: OCR picks the pose, x2, psm 11/11", False, ReadSettings()),
    ("model pose, x2, psm 11/11", True, ReadSettings()),
    ("model pose, x1.5, psm 11/11", True, ReadSettings(upscale=1.5)),
    ("model pose, x1, psm 11/11", True, ReadSettings(upscale=1.0)),
    ("model pose, x1.5, title psm 6", True, ReadSettings(upscale=1.5, title_psm=6)),
    ("model pose, x1.5, page psm 3", True, ReadSettings(upscale=1.5, page_psm=3)),
    ("model pose, x1.5, tesseract's own binarisation", True, ReadSettings(upscale=1.5, binarise=False)),
]


def pages(dd, per_class: int) -> list[tuple[str, int, object, tuple | None]]:
    """(kind, target, image, true pose or None for upright) of the clean pages and their test-like copies."""
    train = dd.train[dd.train["target"].isin(FAMILY)]
    train = train.groupby("target", group_keys=False).head(per_class)
    ids = list(dd.train[dd.train["target"].isin(FAMILY)]["ID"])  # the list `dl-cls ocr` corrupts (overlaps from it)
    copies = TestlikePages(tuple(str(dd.train_path(i)) for i in ids), tuple(ids), seed=1234)
    out = []
    for image_id, target in zip(train["ID"], train["target"]):
        out.append(("clean", int(target), read_image(dd.train_path(image_id)), (0, False)))
        img, geometry = copies.page(image_id)
        out.append(("testlike", int(target), img, geometry))
    return out


def measure(items, engine, settings, orienter, keywords) -> dict:
    rows = []
    for kind, target, img, truth in items:
        t0 = time.perf_counter()
        row = read_document(img, engine, settings, 120.0, orienter)
        secs = time.perf_counter() - t0
        pose = truth if kind == "clean" else LABELS[label_of(truth, row["skew_deg"])]
        rows.append({"kind": kind, "seconds": secs, "pose_ok": (row["orientation"], row["mirrored"]) == tuple(pose),
                     "hangul": any("\uac00" <= ch <= "\ud7a3" for ch in row["title"]),
                     "rule_ok": rule_class(row["title"], keywords) == target})
    return pd.DataFrame(rows)


def run(data: Path, work: Path, per_class: int, only: list[int]) -> int:
    engine = TesseractEngine("kor+eng")
    engine.check()
    dd = load_data(data, "none")
    t0 = time.perf_counter()
    orienter = load_orientation(train_orientation(dd, work, label_fixes="none", log=print))
    print(f"orientation model ready in {time.perf_counter() - t0:.0f} s")
    items = pages(dd, per_class)
    keywords = load_keyword_file("default", FAMILY)
    print(f"{len(items)} pages ({per_class} per family class, clean + test-like), {engine.version()}, one process\n")
    print(f"{'setting':<44} {'s/page':>6} {'ratio':>5} | clean: {'pose':>4} {'hangul':>6} {'title':>5} | "
          f"test-like: {'pose':>4} {'hangul':>6} {'title':>5}")
    base = None
    for name, use_model, settings in [SETTINGS[i] for i in only]:
        df = measure(items, engine, settings, orienter if use_model else None, keywords)
        secs = df["seconds"].mean()
        base = base or secs
        by = {k: df[df["kind"] == k] for k in ("clean", "testlike")}
        cells = " | ".join(f"{k + ':':<{len(k) + 1}} {g['pose_ok'].mean():>4.0%} {g['hangul'].mean():>6.0%} "
                           f"{g['rule_ok'].mean():>5.0%}" for k, g in by.items())
        print(f"{name:<44} {secs:>6.2f} {secs / base:>5.2f} | {cells}", flush=True)
    print("\npose: turn x mirror right; hangul: the title reading has a Hangul syllable; title: the keyword rule "
          "names the right class from the title alone")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=None, help="a data dir (default: a new `dl-cls sample`)")
    p.add_argument("--work", type=Path, default=None, help="work dir for folds and the orientation run")
    p.add_argument("--per-class", type=int, default=6)
    p.add_argument("--only", default=",".join(map(str, range(len(SETTINGS)))),
                   help="rows of SETTINGS to run, the first one the baseline of the ratios (default: all)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or generate_sample(Path(tmp) / "sample")
        return run(data, args.work or Path(tmp) / "work", args.per_class, [int(i) for i in args.only.split(",")])


if __name__ == "__main__":
    raise SystemExit(main())
