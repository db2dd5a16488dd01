"""tesseract through its command line (a process and a model load a page) against libtesseract's C API in process
(dl_cls.ocr.engine.TesseractLibrary): CPU seconds a page and whether they read the same words.

The pages are prepared once as the reader prepares them (deskewed, the pose model's pick turned upright when
--pose-run is given, binarised; `--raw` also the grey pages the second reading gets), then each engine reads all
of them, in alternating rounds, in this one process with one OCR thread (OMP_THREAD_LIMIT=1, set before torch
loads its OpenMP runtime, as dl-cls ocr sets it for its workers). The command line is the baseline: ratios are
against it, measured in the same run. Run it alone on the machine.

    python bench/ocr_engine.py --data work/comp640/sample --pose-run work/comp-cold7/runs/orient-XXXX [--pages 120]
"""
from __future__ import annotations

import os
import sys

if os.environ.get("OMP_THREAD_LIMIT") != "1":  # before torch (and its OpenMP runtime) loads
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "OMP_THREAD_LIMIT": "1"})

import argparse  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from dl_cls.core.io import read_image  # noqa: E402
from dl_cls.imaging.page_geometry import candidates, orient  # noqa: E402
from dl_cls.ocr.engine import TesseractEngine  # noqa: E402
from dl_cls.ocr.read import ReadSettings, _poses, _prepared, upscaled_grey, work_scale  # noqa: E402
from dl_cls.ocr.table import cpu_seconds  # noqa: E402


def prepared_pages(paths: list[Path], pose_run: str | None, raw: bool) -> list[np.ndarray]:
    """What the engine gets for each page: the first reading's binarised page, and with `raw` the grey one."""
    from dl_cls.pose.model import load_orientation

    orienter = load_orientation(pose_run) if pose_run else None
    settings, out = ReadSettings(), []
    for path in paths:
        img = read_image(path)
        _, upright, cands = candidates(upscaled_grey(img, work_scale(img.shape, settings)))
        pose = _poses(upright, cands, orienter, settings)[0][0]
        page = orient(upright, *pose)
        out += [_prepared(page, settings)] + ([page] if raw else [])
    return out


def timed(engine, pages: list[np.ndarray], psm: int) -> tuple[float, list]:
    start = cpu_seconds()
    readings = [engine.read(p, psm) for p in pages]
    return (cpu_seconds() - start) / len(pages), readings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="a data dir (its test/ pages are read)")
    ap.add_argument("--pose-run", help="the pose model's run dir (else the text-direction test's first pose)")
    ap.add_argument("--pages", type=int, default=120)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--raw", action="store_true", help="also the grey pages the second reading (`raw`) gets")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    paths = sorted((Path(args.data) / "test").iterdir())
    paths = paths[:: max(1, len(paths) // args.pages)][: args.pages]  # spread over the folder
    pages = prepared_pages(paths, args.pose_run, args.raw)
    engines = {"command line": TesseractEngine("kor", in_process=False), "in process": TesseractEngine("kor")}
    for engine in engines.values():
        engine.check()
    assert engines["in process"].library_reader() is not None, "libtesseract not usable here"
    secs, readings = {name: [] for name in engines}, {}
    for _ in range(args.rounds):
        for name, engine in engines.items():
            s, readings[name] = timed(engine, pages, ReadSettings().page_psm)
            secs[name].append(s)
    base = np.mean(secs["command line"])
    same = sum(a.words == b.words and a.confs == b.confs for a, b in zip(*readings.values()))
    print(f"{len(pages)} engine inputs from {len(paths)} test pages of {args.data}; {engines['in process'].version()}, "
          f"one OCR thread; CPU s a page, mean of {args.rounds} rounds")
    for name in engines:
        print(f"  {name:13s} {np.mean(secs[name]):.3f} (rounds {', '.join(f'{s:.3f}' for s in secs[name])})  "
              f"x{np.mean(secs[name]) / base:.2f}")
    print(f"  the same words and confidences on {same} of {len(pages)} inputs")


if __name__ == "__main__":
    main()
