"""What makes the sample's pages cost what they do to read, against the real competition's figures (issue 29 item 5).

Each row draws a fresh `dl-cls sample` (same seed) with one thing changed — the long side the pages are drawn at,
or the scale of the far camera that takes the test pages (dl_cls.data.photo.SAMPLE_CAMERA) — and reads its clean
train pages and its test pages as `dl-cls ocr` does by default (the pose model's pick alone, one engine call a
page, tesseract in process; the "sure 0.9" rows read a doubted page's likeliest poses with a tesseract command a
page, as the reader of the real figures did), in this one process with one OCR thread: CPU seconds a page (the
engine's subprocess included), and the label-free figures the real test pages were measured on (letters a page,
word confidence, a shipped title keyword found), plus the test images' profile medians (Laplacian variance, fine
noise), which must stay inside the real test's IQRs (tests/test_profile.py). The first row is the base (the sample
as drawn before issue 29's third round; 640 px is the default since); the others print their cost as a ratio to
it, measured in the same run. Run it alone on the machine.

    python bench/ocr_sample_cost.py --pose-run work/demo/runs/orient-XXXX [--test-per-class 6]

The pose model reads 64 px views of a page, so one trained on any sample (make demo's) serves every size.

**Your own pages** (what settles the clause the sample cannot: do your test pages cost what the sample's do?):
`--data DIR` (a data dir in the competition's format: DIR/train, DIR/test) adds two rows that read `--pages` clean
train pages and as many test pages of DIR, drawn with the seed, with each of the two readers, after the sample's
640 px rows read with the same two (their base), and prints your pages' cost as a ratio to the sample's. Give it
the pose model of your data (`make orient DATA=DIR`, `--data-pose-run`): the share of pages it doubts is part of
what a page costs with the older reader. 3.5 minutes with `--rows 1,5` on the sample's pages as DIR.

    python bench/ocr_sample_cost.py --pose-run work/demo/runs/orient-XXXX --rows 1,5 \
        --data data --data-pose-run work/runs/orient-YYYY
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

import dl_cls.data.photo as photo
from dl_cls.core.errors import DlClsError
from dl_cls.core.io import image_files, read_image
from dl_cls.data.sample import generate_sample
from dl_cls.imaging.imgstats import measure
from dl_cls.imaging.testlike import CameraConfig
from dl_cls.ocr.engine import TesseractEngine
from dl_cls.ocr.expert import load_keyword_file
from dl_cls.ocr.read import ReadSettings, read_document
from dl_cls.ocr.readability import page_readability
from dl_cls.ocr.table import cpu_seconds
from dl_cls.pose.mix import pose_mix
from dl_cls.pose.model import load_orientation

SHIPPED = photo.SAMPLE_CAMERA
# (reader settings, tesseract in process): the default reader, the pose model's pick alone; and the reader the real
# figures were measured with: 2-3 poses of a doubted page, a tesseract command a page (before issue 29's 7th round)
PICK = (ReadSettings(), True)
DOUBT = (ReadSettings(orient_sure=0.9), False)
# (name, long side drawn, far camera scale range or None for the shipped one, reader)
ROWS = [
    ("drawn at 512 px", 512, None, PICK),
    ("drawn at 640 px", 640, None, PICK),
    ("drawn at 768 px", 768, None, PICK),
    ("camera 0.38-0.55", 512, (0.38, 0.55), PICK),
    ("camera 0.45-0.62", 512, (0.45, 0.62), PICK),
    ("640 px, sure 0.9", 640, None, DOUBT),
]
# the real competition (issue 29; reader with --pose-sure 0.9: more than one pose read on doubted pages)
REAL = "real: clean 0.67 s, test 1.20 s a page; test letters 12.6, word conf 52.0, keyword 8%"
REAL_IQR = {"lap_var": (224, 510), "noise_mad": (0.25, 0.99)}


def read_pages(paths: list[Path], engine, orienter, settings) -> tuple[pd.DataFrame, list[float], pd.DataFrame]:
    """Rows as read, CPU seconds per page, image statistics (megapixels as stored included)."""
    rows, secs, stats = [], [], []
    for path in paths:
        img = read_image(path)
        stats.append({**measure(img), "mp": img.shape[0] * img.shape[1] / 1e6})
        c0 = cpu_seconds()
        rows.append(read_document(img, engine, settings, 120.0, orienter))
        secs.append(cpu_seconds() - c0)
    return pd.DataFrame(rows), secs, pd.DataFrame(stats)


def figures(clean_s: list[float], test: pd.DataFrame, test_s: list[float], stats: pd.DataFrame, keywords) -> dict:
    """One printed row: cost, poses, doubt and size of the test pages, their label-free reading, their profile."""
    fig = page_readability(test, keywords, keywords)
    mix = pose_mix(test["orientation"], test["mirrored"], pd.to_numeric(test["pose_p"], errors="coerce"))
    return {"clean_s": float(np.mean(clean_s)), "test_s": float(np.mean(test_s)),
            "p99": float(np.quantile(test_s, 0.99)), "poses": float(test["poses_read"].mean()),
            "doubted": mix["doubted"] or 0.0, "mp": float(stats["mp"].mean()),
            "letters": fig["letters"], "conf": fig["word_conf"], "keyword": fig["title_keyword"],
            "lap": float(stats["lap_var"].median()), "noise": float(stats["noise_mad"].median())}


def sample_row(size: int, camera, reader, args, engines, orienter, keywords) -> dict:
    photo.SAMPLE_CAMERA = SHIPPED if camera is None else CameraConfig(
        p=1.0, scale=list(camera), jpeg=list(SHIPPED.jpeg), sharpen=list(SHIPPED.sharpen))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            data = generate_sample(Path(tmp) / "s", seed=args.seed, train_per_class=args.train_per_class,
                                   test_per_class=args.test_per_class, size=size)
            return pages_row({split: image_files(data / split) for split in ("train", "test")}, reader, engines,
                             orienter, keywords)
    finally:
        photo.SAMPLE_CAMERA = SHIPPED


def drawn(folder: Path, n: int, seed: int) -> list[Path]:
    """n images of a folder, drawn with the seed (every one when it holds fewer)."""
    if not folder.is_dir():
        raise SystemExit(f"{folder}: no such folder (--data takes a data dir with train/ and test/)")
    paths = image_files(folder)
    if not paths:
        raise SystemExit(f"{folder}: no images")
    pick = np.random.default_rng(seed).permutation(len(paths))[:n]
    return [paths[i] for i in sorted(pick)]


def pages_row(pages: dict, reader, engines, orienter, keywords) -> dict:
    """The figures of the clean (pages["train"]) and test pages read by `reader`."""
    settings, in_process = reader
    _, clean_s, _ = read_pages(pages["train"], engines[in_process], orienter, settings)
    test, test_s, stats = read_pages(pages["test"], engines[in_process], orienter, settings)
    return figures(clean_s, test, test_s, stats, keywords)


def print_row(name: str, r: dict, base: float) -> None:
    inside = all(lo <= r[k] <= hi for k, (lo, hi) in (("lap", REAL_IQR["lap_var"]),
                                                      ("noise", REAL_IQR["noise_mad"])))
    print(f"{name:<22} {r['clean_s']:>7.2f} {r['test_s']:>6.2f} {r['test_s'] / base:>5.2f} {r['p99']:>5.2f} "
          f"{r['poses']:>5.2f} {r['doubted']:>7.0%} {r['mp']:>5.2f} {r['letters']:>7.1f} {r['conf']:>5.1f} "
          f"{r['keyword']:>7.0%} {r['lap']:>5.0f} {r['noise']:>5.2f} "
          f"{'inside the real IQRs' if inside else 'OUTSIDE the real IQRs'}", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pose-run", type=Path, required=True, help="an orient-* run dir (make demo leaves one)")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--train-per-class", type=int, default=2)
    ap.add_argument("--test-per-class", type=int, default=6)
    ap.add_argument("--rows", default=",".join(map(str, range(len(ROWS)))), help="rows to run (the first is the base)")
    ap.add_argument("--data", type=Path, help="also read your own pages: a data dir with train/ and test/")
    ap.add_argument("--data-pose-run", type=Path, help="the orient-* run dir of --data's pages (default --pose-run)")
    ap.add_argument("--pages", type=int, default=60, help="clean and test pages of --data to read, each")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)  # as dl-cls ocr's workers
    cv2.setNumThreads(1)
    pages = {split: drawn(args.data / split, args.pages, args.seed) for split in ("train", "test")} if args.data else {}
    orienter = load_orientation(args.pose_run)
    mine = load_orientation(args.data_pose_run) if args.data_pose_run else orienter
    engines = {True: TesseractEngine("kor"), False: TesseractEngine("kor", in_process=False)}
    engines[True].check()
    keywords = load_keyword_file("default", list(range(17)))
    print(f"{args.train_per_class} clean and {args.test_per_class} test pages a class per sample row, one process, "
          f"{engines[True].version()}\n{REAL}\n")
    print(f"{'pages':<22} {'clean s':>7} {'test s':>6} {'ratio':>5} {'p99':>5} {'poses':>5} {'doubted':>7} "
          f"{'MP':>5} {'letters':>7} {'conf':>5} {'keyword':>7} {'lap':>5} {'noise':>5} profile")
    base, by_reader = None, {}
    for name, size, camera, reader in [ROWS[int(i)] for i in args.rows.split(",")]:
        r = sample_row(size, camera, reader, args, engines, orienter, keywords)
        base = base or r["test_s"]
        if size == 640 and camera is None:
            by_reader[reader is DOUBT] = r["test_s"]
        print_row(name, r, base)
    if args.data:
        for reader in (PICK, DOUBT):
            r = pages_row(pages, reader, engines, mine, keywords)
            name = f"{args.data.name}, {'sure 0.9' if reader is DOUBT else 'pick'}"
            print_row(name, r, base)
            if (reader is DOUBT) in by_reader:
                print(f"  {args.data.name}'s test pages cost x{r['test_s'] / by_reader[reader is DOUBT]:.2f} the "
                      f"sample's 640 px ones with this reader")
    print("\nclean s / test s: CPU seconds a page (pose model + deskew + an engine call per pose read); poses: read "
          "a test page; doubted: test pages whose pose pick has p < 0.9; MP: megapixels a test page as stored; "
          "letters, conf, keyword: the test pages' label-free figures; lap, noise: the test images' medians (real "
          "IQR 224-510, 0.25-0.99)")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except DlClsError as e:  # a bad run dir or data dir: its one line, not a traceback
        raise SystemExit(f"error: {e}")
