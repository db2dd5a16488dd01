"""Predict an image folder with a run's fold models (best.pt, EMA weights) and the run's TTA views (an upright
run: its pose step instead)."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from dl_cls.artifacts.runs import FOLD_DONE, prob_columns
from dl_cls.core.errors import DlClsError
from dl_cls.core.io import atomic_write_csv
from dl_cls.core.lock import Lock
from dl_cls.train import dist, loop, tta
from dl_cls.train import model as model_lib
from dl_cls.train.config import recipe_from_run
from dl_cls.train.data import ImageStore, list_image_folder, posed_images, want_cache


def predict_folder(run_dir: Path, folder: Path, out: Path, force_cpu: bool = False) -> pd.DataFrame:
    out.parent.mkdir(parents=True, exist_ok=True)
    with Lock(out.parent, f"prediction {out}", name=f".{out.name}.lock"):
        if out.exists():
            raise DlClsError(f"{out} already exists; outputs are never overwritten (pass another --out)")
        df = _predict(run_dir, folder, force_cpu)
        atomic_write_csv(df, out)
    return df


def _fold(checkpoint: Path) -> int:
    return int(checkpoint.parent.name.removeprefix("fold"))


def _posed(cfg, ckpts: list[Path], paths: list[str], show: bool):
    """An upright run's pose step: each fold model's images straightened by the pose model its fold used."""
    from dl_cls.pose.model import load_orientation

    models = {}
    for ck in ckpts:
        info = ck.parent / FOLD_DONE
        pose_run = json.loads(info.read_text(encoding="utf-8")).get("pose_run") if info.is_file() else None
        if not pose_run:
            raise DlClsError(f"{info}: an upright fold names no pose run (finish the fold: dl-cls train --resume)")
        models[_fold(ck)] = load_orientation(pose_run, _fold(ck))
    return posed_images(paths, cfg.img_size, models, show, cfg.crop_band)


def _predict(run_dir: Path, folder: Path, force_cpu: bool) -> pd.DataFrame:
    """Mean over the run's fold models (each with the run's TTA) of the folder's class probabilities."""
    cfg, saved = recipe_from_run(run_dir)
    ckpts = sorted(run_dir.glob("fold*/best.pt"))
    if not ckpts:
        raise DlClsError(f"{run_dir}: no fold*/best.pt to predict with")
    classes = cfg.classes if cfg.classes is not None else list(range(saved.num_classes))
    ids, paths = list_image_folder(folder)
    d = dist.Dist(device=torch.device("cuda") if torch.cuda.is_available() and not force_cpu else torch.device("cpu"))
    rt = loop.make_runtime(cfg, d, cached=True)
    posed = _posed(cfg, ckpts, paths, rt.show) if cfg.pose == "upright" else None
    store = posed.images if posed else ImageStore(paths, cfg.img_size, cache=want_cache(cfg, len(paths)),
                                                  show=rt.show, desc="decode", band=cfg.crop_band)
    views = [(0, False)] if posed else tta.views(cfg.tta_rotations, cfg.tta_hflip)
    probs = []
    for i, ck in enumerate(ckpts, 1):
        t0 = time.perf_counter()
        net = loop.load_fold_model(cfg, ck, len(classes), rt.device, rt.channels_last)
        norm = loop.Normalizer(*model_lib.normalization(net), rt)
        p, _ = loop.predict(net, store, rt, norm, cfg.eval_batch_size or 2 * cfg.batch_size, views, ck.parent.name)
        probs.append(posed.mix(p, _fold(ck)) if posed else p)
        if not rt.show:  # no bar (a log file, not a terminal): one line per fold model instead
            print(f"predict {ck.parent.name} ({i}/{len(ckpts)}): {len(ids)} images x {len(views)} TTA views in "
                  f"{time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    df = pd.concat([pd.DataFrame({"ID": ids}),
                    pd.DataFrame(np.mean(probs, axis=0), columns=prob_columns(classes))], axis=1)
    return df

