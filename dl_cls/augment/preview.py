"""Contact sheet of what a preset does: each row an original beside augmented copies, the ops named under each.

The copies are exactly those `dl-cls augment` would write for the same (seed, source_id, copy) and size.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from dl_cls.augment.preset import Preset
from dl_cls.augment.worker import WorkerState, init_worker, make_image


def preview_sheet(dd, preset: Preset, n: int = 8, copies: int = 4, seed: int = 0, size: int = 512,
                  tile: int = 200) -> np.ndarray:
    """n source images (one per class, spread over the classes) x (original + `copies` augmented)."""
    from dl_cls.imaging.viz import contact_sheet

    train = dd.train
    firsts = train.groupby("target", sort=True).head(1)
    step = max(1, len(firsts) // max(n, 1))
    picked = list(firsts["ID"].iloc[::step][:n])
    if len(picked) < n:  # fewer classes than rows asked for: fill with further images
        picked += [i for i in train["ID"] if i not in picked][: n - len(picked)]
    state = WorkerState(preset=str(preset.path), train_dir=str(dd.train_dir), images_dir="", size=size,
                        seed=seed, source_ids=list(train["ID"]))
    init_worker(state, set_env=False)
    target_of = dict(zip(train["ID"], train["target"]))
    images, captions = [], []
    for sid in picked:
        img, _, _ = make_image(sid, 0)
        images.append(img)
        name = dd.class_names[int(target_of[sid])]
        captions.append(f"ORIGINAL {Path(sid).stem} ({name})")
        for c in range(1, copies + 1):
            img, applied, _ = make_image(sid, c)
            images.append(img)
            captions.append(f"c{c}: " + (", ".join(applied) or "none"))
    title = f"preset {preset.name}: originals (left) and augmented copies, ops named (seed {seed}, size {size})"
    return contact_sheet(images, captions, ncols=copies + 1, tile=tile, title=title)
