"""Measure every image of a folder (imaging.imgstats.measure) in parallel, plus the folder-level frame statistic."""
from __future__ import annotations

import functools
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from dl_cls.core.errors import DlClsError
from dl_cls.core.io import IMAGE_SUFFIXES, image_files, read_image
from dl_cls.core.progress import Progress
from dl_cls.imaging.imgstats import measure

def list_images(folder, limit: int | None = None, seed: int = 0) -> list[Path]:
    """The folder's image files, sorted; with `limit`, a seeded sample of that many (same files every time)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DlClsError(f"{folder}: not a directory")
    files = image_files(folder)
    if not files:
        raise DlClsError(f"{folder}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    if limit and len(files) > limit:
        keep = np.sort(np.random.default_rng(seed).choice(len(files), limit, replace=False))
        files = [files[i] for i in keep]
    return files


def _measure_file(path: str) -> dict:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    return {"ID": Path(path).name, **measure(read_image(path))}


@functools.lru_cache(maxsize=4)
def _testlike_config(path: str):
    from dl_cls.imaging.testlike import load_testlike_config

    return load_testlike_config(path)


def _measure_corrupted(job: tuple[str, str, str, int]) -> dict:
    """The test-like corruption of one image (seeded by ID, another image of the folder as the overlapping
    sheet, as the trainer's validation does), measured."""
    from dl_cls.imaging.testlike import corrupt_testlike, testlike_rng

    path, other, config, seed = job
    rng = testlike_rng(seed, Path(path).name)
    img = corrupt_testlike(read_image(path), rng, other=read_image(other), cfg=_testlike_config(config))
    return {"ID": Path(path).name, **measure(img)}


def _progress(it, total: int, desc: str):
    """Yield from it, with dl_cls.core.progress's bar in a terminal and a few lines in a log."""
    with Progress(total, desc, "img") as bar:
        for item in it:
            bar.update()
            yield item


def measure_folder(folder, workers: int = 1, limit: int | None = None, seed: int = 0,
                   testlike: str | None = None) -> pd.DataFrame:
    """One row per image: ID, h, w, every imgstats statistic and the long side (px). Unreadable images fail with the
    file named.
    With `testlike` (a config path), each image's test-like corruption is measured instead."""
    files = [str(p) for p in list_images(folder, limit, seed)]
    fn, jobs = _measure_file, files
    if testlike:
        fn, jobs = _measure_corrupted, [(f, files[(i + 1) % len(files)], testlike, seed) for i, f in enumerate(files)]
    desc = Path(folder).name + (" test-like" if testlike else "")
    if workers <= 1 or len(files) < 8:
        rows = list(_progress(map(fn, jobs), len(files), desc))
    else:
        import cv2

        cv2.setNumThreads(1)
        with ProcessPoolExecutor(max_workers=workers) as pool:
            rows = list(_progress(pool.map(fn, jobs, chunksize=8), len(files), desc))
    df = pd.DataFrame(rows)
    # the statistics are measured at one size; the reader's cost follows the pixels it is given (issue 29)
    return df.assign(long_side=df[["h", "w"]].max(axis=1))


def frame_matches(df: pd.DataFrame, ref: pd.DataFrame, same: bool) -> np.ndarray:
    """Whether each image's frame (h, w), or its w/h swap, is the frame of a reference image.

    Within the reference folder itself (`same`), another image must share the size (an image matches itself)."""
    counts = pd.Series(list(zip(ref["h"], ref["w"]))).value_counts()
    need = 2 if same else 1

    def hits(h, w):
        n = counts.get((h, w), 0)
        return n + (counts.get((w, h), 0) if h != w else 0)

    return np.array([hits(h, w) >= need for h, w in zip(df["h"], df["w"])], dtype=float)
