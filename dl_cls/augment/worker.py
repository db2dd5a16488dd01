"""What one worker process does: load + resize a source image, run the preset, write the result atomically.

Kept free of heavy imports at module level (no torch, no augraphy/numba) so that the thread pinning in
`init_worker` happens before numba starts its thread pool.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from dl_cls.augment.ops import apply_ops, derive_seed
from dl_cls.core.io import read_image, write_image
from dl_cls.data.folds import PSEUDO_PREFIX

THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")


@dataclass
class WorkerState:
    preset: str          # name or path; each worker builds its own ops
    train_dir: str
    images_dir: str
    size: int            # long side; 0 keeps the original size
    seed: int
    source_ids: list     # all train IDs, for the overlay op's "other" image
    pseudo_dir: str = ""  # a pseudo set's images/ (source_id "pseudo:<test ID>", dl-cls augment --pseudo)


_STATE: WorkerState | None = None
_OPS = None
_BUDGET = 2000.0


def pin_threads(set_env: bool = True) -> None:
    """One thread per worker for OpenCV, BLAS/OpenMP and numba: parallelism comes from processes.
    set_env=False for an in-process run, so the caller's own process environment is left alone."""
    if set_env:
        for var in THREAD_ENV:
            os.environ[var] = "1"
    cv2.setNumThreads(1)
    if "numba" in sys.modules:  # loaded already: the env var is too late, set it directly
        import numba

        numba.set_num_threads(1)


def init_worker(state: WorkerState, warm_up: bool = True, set_env: bool = True) -> None:
    global _STATE, _OPS, _BUDGET
    pin_threads(set_env)
    from dl_cls.augment.preset import load_preset

    preset = load_preset(state.preset)  # imports augraphy (and numba) when the preset uses it
    pin_threads(set_env)
    _STATE, _OPS, _BUDGET = state, preset.ops, preset.budget_ms
    load_resized.cache_clear()
    if warm_up:
        # numba-compiled augraphy effects pay a JIT/cache load on their first call (0.3-3 s), which would
        # otherwise count against the per-op time budget of the first image
        page = np.full((64, 48, 3), 240, np.uint8)
        page[10:14, 5:40] = 20
        for op in _OPS:
            if op.op.startswith("augraphy."):
                for s in (1, 2):
                    try:
                        op(page, s, None)
                    except Exception:
                        pass


def resize_long_side(img: np.ndarray, size: int) -> np.ndarray:
    """Downscale so the long side is `size` (never upscale; size 0 keeps the image)."""
    h, w = img.shape[:2]
    if size <= 0 or max(h, w) <= size:
        return img
    s = size / max(h, w)
    return cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


@lru_cache(maxsize=8)  # a source's copies arrive together in a chunk: decode it once
def load_resized(path: str, size: int) -> np.ndarray:
    img = resize_long_side(read_image(path), size)
    img.setflags(write=False)
    return img


class _Context:
    """What ops may ask for besides the image: another train image (for `overlay`), chosen from the seed."""

    def __init__(self, source_id: str, seed: int):
        self.source_id, self.seed = source_id, seed

    def other(self):
        ids = _STATE.source_ids
        if len(ids) < 2:
            return None
        rng = np.random.default_rng(self.seed ^ 0x5EED)
        j = int(rng.integers(0, len(ids) - 1))
        other_id = ids[j] if ids[j] != self.source_id else ids[-1]
        return load_resized(str(Path(_STATE.train_dir) / other_id), _STATE.size)


def source_path(source_id: str) -> str:
    """A train image, or a pseudo-labelled test image copied into its pseudo set."""
    if source_id.startswith(PSEUDO_PREFIX):
        return str(Path(_STATE.pseudo_dir) / source_id[len(PSEUDO_PREFIX):])
    return str(Path(_STATE.train_dir) / source_id)


def make_image(source_id: str, copy: int):
    """The output image for (source_id, copy) and the op records; copy 0 is the original, resized only."""
    img = load_resized(source_path(source_id), _STATE.size)
    if copy == 0:
        return img, [], []
    seed = derive_seed(_STATE.seed, source_id, copy)
    return apply_ops(_OPS, img, seed, _BUDGET, ctx=_Context(source_id, seed))


def work(job: tuple) -> dict:
    """Make and write one image. Returns its journal record (the image is on disk, complete, before this returns)."""
    out_id, source_id, copy, target = job
    img, applied, records = make_image(source_id, copy)
    write_image(Path(_STATE.images_dir) / out_id, img, quality=95)
    return {"ID": out_id, "source_id": source_id, "copy": int(copy), "target": int(target),
            "ops": applied, "records": [[n, s, round(ms, 3)] for n, s, ms in records]}
