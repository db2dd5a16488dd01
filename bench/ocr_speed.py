"""OCR speed and accuracy per reader setting, on train pages, their test-like copies and test pages of every class.

Pages: the first `--per-class` train images of each class of a data dir (default: a new `dl-cls sample`), clean
(upright by definition), their seeded test-like copies (the ones `dl-cls ocr` validates on; pose known) and the
first `--per-class` test images of each class (test_labels.csv and test_orientation.csv of the sample: class and
pose known). Each setting reads every page with `read_document` in this one process with one OCR thread, so its
seconds per page are CPU seconds: run it alone on the machine. The first row is the baseline (today's reader before
this change); every other row prints its seconds per page as a ratio to it, measured in the same run.

    python bench/ocr_speed.py [--data DIR] [--work DIR] [--per-class 2] [--only 0,2,3]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from dl_cls.core.io import read_image
from dl_cls.data.contract import load_data
from dl_cls.data.sample import generate_sample
from dl_cls.ocr.engine import TesseractEngine
from dl_cls.ocr.expert import keyword_rules, load_keyword_file, rule_class
from dl_cls.pose.data import LABELS, label_of
from dl_cls.pose.model import load_orientation, train_orientation
from dl_cls.ocr.read import ReadSettings, read_document
from dl_cls.ocr.table import TestlikePages

FAMILY = [3, 4, 7, 14]
OLD = dict(invert_lines=True)  # tesseract's own re-reads of unsure lines inverted, as every reader before this one
V3 = dict(OLD, one_call=False, lang="kor+eng")  # the reader before version 4: title band and page read apart
# (name, uses the orientation model, reader settings)
SETTINGS = [
    ("v3: model pose, 2 calls, x2, kor+eng", True, ReadSettings(**V3, upscale=2.0, orient_tta=False)),
    ("v3, OCR picks the pose", False, ReadSettings(**V3, upscale=2.0)),
    ("1 call, x2, kor+eng", True, ReadSettings(**OLD, lang="kor+eng", upscale=2.0)),
    ("1 call, x2, kor", True, ReadSettings(**OLD, upscale=2.0)),
    ("1 call, x1.5, kor", True, ReadSettings(**OLD, upscale=1.5)),
    ("1 call, x1.5, kor, psm 3", True, ReadSettings(**OLD, upscale=1.5, page_psm=3)),
    ("v4: 1 call, x1, kor, psm 11", True, ReadSettings(**OLD, upscale=1.0)),
    ("v4, no inverted re-reads, x1", True, ReadSettings(invert_lines=False, upscale=1.0)),
    ("v4, no inverted re-reads, x1.5", True, ReadSettings(invert_lines=False, upscale=1.5)),
    ("default", True, ReadSettings()),
    ("default, Hangul script model", True, ReadSettings(lang="Hangul")),  # tesseract-ocr-script-hang (issue 29)
    ("default, kor+Hangul", True, ReadSettings(lang="kor+Hangul")),
]


def pages(dd, per_class: int) -> list[tuple[str, int, object, object]]:
    """(kind, target, image, pose geometry or None for upright) of clean pages, test-like copies and test pages."""
    train = dd.train.groupby("target", group_keys=False).head(per_class)
    ids = list(dd.train["ID"])  # the list `dl-cls ocr --classes all` corrupts (overlaps drawn from it)
    copies = TestlikePages(tuple(str(dd.train_path(i)) for i in ids), tuple(ids), seed=1234)
    out = []
    for image_id, target in zip(train["ID"], train["target"]):
        out.append(("clean", int(target), read_image(dd.train_path(image_id)), None))
        out.append(("testlike", int(target), *copies.page(image_id)))
    labels = pd.read_csv(dd.root / "test_labels.csv", dtype={"ID": str})
    poses = pd.read_csv(dd.root / "test_orientation.csv", dtype={"ID": str}).set_index("ID")
    for image_id, target in labels.groupby("target", group_keys=False).head(per_class).itertuples(index=False):
        out.append(("test", int(target), read_image(dd.test_path(image_id)), poses.loc[image_id].to_dict()))
    return out


def measure(items, engine, settings, orienter, keywords) -> dict:
    rules = keyword_rules(keywords)
    rows = []
    for kind, target, img, truth in items:
        t0 = time.perf_counter()
        row = read_document(img, engine, settings, 120.0, orienter)
        secs = time.perf_counter() - t0
        pose = (0, False) if truth is None else LABELS[label_of(truth, row["skew_deg"])]
        rows.append({"kind": kind, "seconds": secs, "pose_ok": (row["orientation"], row["mirrored"]) == tuple(pose),
                     "hangul": any("\uac00" <= ch <= "\ud7a3" for ch in row["title"]),
                     "rule_ok": rule_class(row["title"], rules) == target, "family": target in FAMILY,
                     "letters": row["n_chars"]})
    return pd.DataFrame(rows)


KINDS = ("clean", "testlike", "test")


def _cells(df) -> str:
    """Per kind of page: pose right, and the title rule right on the family's pages."""
    out = []
    for kind in KINDS:
        g = df[df["kind"] == kind]
        out.append(f"{g['seconds'].mean():>5.2f} {g['pose_ok'].mean():>4.0%} {g[g['family']]['rule_ok'].mean():>5.0%} "
                   f"{g['letters'].mean():>7.1f}")
    return " | ".join(out)


def run(data: Path, work: Path, per_class: int, only: list[int]) -> int:
    torch.set_num_threads(1)  # as dl-cls ocr's workers: one thread for the pose model beside one OCR thread
    dd = load_data(data, "none")
    t0 = time.perf_counter()
    orienter = load_orientation(train_orientation(dd, work, label_fixes="none", log=print))
    print(f"orientation model ready in {time.perf_counter() - t0:.0f} s")
    items = pages(dd, per_class)
    keywords = load_keyword_file("default", FAMILY)
    print(f"{len(items)} pages ({per_class} per class: clean, test-like, test), one process, one OCR thread\n")
    head = " | ".join(f"{k + ' s/page':>10} {'pose':>4} {'title':>5} {'letters':>7}" for k in KINDS)
    print(f"{'setting':<38} {'s/page':>6} {'ratio':>5} | {head}")
    base = None
    for name, use_model, settings in [SETTINGS[i] for i in only]:
        engine = TesseractEngine(settings.lang, invert_lines=settings.invert_lines)
        engine.check()
        df = measure(items, engine, settings, orienter if use_model else None, keywords)
        secs = df["seconds"].mean()
        base = base or secs
        print(f"{name:<38} {secs:>6.2f} {secs / base:>5.2f} | {_cells(df)}", flush=True)
    print(f"\n{engine.version()}; s/page: mean over every page; pose: turn x mirror right; title: the keyword rule "
          "names the right class from the title alone (family pages); letters: confident letters a page")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=None, help="a data dir (default: a new `dl-cls sample`)")
    p.add_argument("--work", type=Path, default=None, help="work dir for folds and the orientation run")
    p.add_argument("--per-class", type=int, default=2)
    p.add_argument("--only", default=",".join(map(str, range(len(SETTINGS)))),
                   help="rows of SETTINGS to run, the first one the baseline of the ratios (default: all)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or generate_sample(Path(tmp) / "sample")
        return run(data, args.work or Path(tmp) / "work", args.per_class, [int(i) for i in args.only.split(",")])


if __name__ == "__main__":
    raise SystemExit(main())
