"""`dl-cls ocr --write-normalised DIR`: every test image of the data dir as the OCR normaliser left it (deskewed,
turned upright, un-mirrored, from the OCR table's skew_deg / orientation / mirrored), an unchanged copy where the
table has no row, under the same file names: DIR can be a training run's test_dir (a title-band specialist,
crop_band, needs upright pages). DIR is only ever replaced when dl_cls made it for this."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from dl_cls.core.io import (as_flag, check_made, data_key, made_dir_target, read_image, write_image,
                           write_made_dir)
from dl_cls.core.progress import Progress
from dl_cls.imaging.page_geometry import normalise

KIND = "normalised test images"


def check_target(out) -> None:
    """Refuse early (before any reading) a DIR that holds something dl_cls did not write as normalised images."""
    out = made_dir_target(out, "--write-normalised")  # a symlink is followed, a file refused
    if out.exists() and any(out.iterdir()):
        check_made(out, KIND)


def normalised_page(path, row) -> np.ndarray:
    return normalise(read_image(path), float(row["skew_deg"]), int(row["orientation"]), as_flag(row["mirrored"]))


def write_normalised(out, table: pd.DataFrame, dd, progress: bool = False) -> dict:
    """Write DIR (atomically: a temp dir renamed into place); returns the counts."""
    out = Path(out)
    check_target(out)
    rows = table[table["split"] == "test"].set_index("ID")
    counts = {"normalised": 0, "copied": 0}

    def write(tmp: Path) -> dict:
        with Progress(len(dd.test_ids), "normalise", "img", enabled=progress) as bar:
            for image_id in dd.test_ids:
                if image_id in rows.index:
                    write_image(tmp / image_id, normalised_page(dd.test_path(image_id), rows.loc[image_id]))
                    counts["normalised"] += 1
                else:
                    shutil.copyfile(dd.test_path(image_id), tmp / image_id)
                    counts["copied"] += 1
                bar.update()
        return {"data_dir": data_key(dd.root), **counts}

    write_made_dir(out, KIND, write)
    return counts
