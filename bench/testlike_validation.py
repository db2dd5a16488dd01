"""Does the test-like validation predict the test score? And does deskewing test images help the CNN?

For one trained run (its fold models, its TTA), this predicts each fold's validation originals under
  - the legacy corruption (dl_cls/testlike.py as of commit 6b3274d, read from git history),
  - the calibrated corruption (the shipped configs/testlike/default.yaml), as the trainer does,
  - the calibrated corruption, then deskewed by dl_cls.imaging.page_geometry (the normaliser's geometry step),
and the data dir's test images as they are and deskewed (all fold models averaged, as `dl-cls predict`). With the
sample's test_labels.csv it prints OOF macro F1 per validation and test macro F1 per input, so the gap between a
validation and the test can be read off. Turns and mirrors are not normalised here: the run's TTA averages all
four turns x flip, so its predictions do not depend on them; only the deskew can change anything.

    .venv/bin/python bench/testlike_validation.py --run work/demo/runs/tiny --labels work/demo/sample/test_labels.csv
"""
from __future__ import annotations

import argparse
import subprocess
import time
import types
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from dl_cls.artifacts.runs import load_truth, macro_f1, read_run_config
from dl_cls.core.io import read_image
from dl_cls.imaging import page_geometry
from dl_cls.imaging.testlike import corrupt_testlike, testlike_rng
from dl_cls.train import dist, loop, tta
from dl_cls.train import model as model_lib
from dl_cls.train.config import recipe_from_run
from dl_cls.train.data import resize

LEGACY_COMMIT = "6b3274d"


def legacy_corruption():
    """corrupt_testlike as it was before the calibration (issue 13), loaded from git history."""
    src = subprocess.run(["git", "show", f"{LEGACY_COMMIT}:dl_cls/testlike.py"], check=True, capture_output=True,
                         text=True).stdout
    mod = types.ModuleType("legacy_testlike")
    exec(compile(src, f"{LEGACY_COMMIT}:dl_cls/testlike.py", "exec"), mod.__dict__)
    return lambda img, rng, other: mod.corrupt_testlike(img, rng, other=other)


def calibrated(img, rng, other):
    return corrupt_testlike(img, rng, other=other)


def deskewed(img: np.ndarray) -> np.ndarray:
    return page_geometry.deskew(img, page_geometry.estimate_skew(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)))


def corrupted_set(paths, ids, corrupt, seed: int, size: int, then=None) -> np.ndarray:
    """The trainer's seeded test-like set (same seed, same 'other' page), optionally post-processed by `then`."""
    n, out = len(paths), []
    for i in range(n):
        rng = testlike_rng(seed, ids[i])
        other = read_image(paths[(i + 1 + int(rng.integers(n - 1))) % n]) if n > 1 else None
        img = corrupt(read_image(paths[i]), rng, other)
        out.append(resize(then(img) if then else img, size))
    return np.stack(out)


class FoldModels:
    """The run's fold models with its TTA views, on the CPU."""

    def __init__(self, run_dir: Path):
        self.cfg, saved = recipe_from_run(run_dir)
        self.num_classes = saved.num_classes
        self.rt = loop.make_runtime(self.cfg, dist.Dist(device=torch.device("cpu")), cached=True)
        self.rt.show = False
        self.views = tta.views(self.cfg.tta_rotations, self.cfg.tta_hflip)
        self.ckpts = {int(p.parent.name[4:]): p for p in sorted(run_dir.glob("fold*/best.pt"))}

    def probs(self, k: int, images: np.ndarray) -> np.ndarray:
        net = loop.load_fold_model(self.cfg, self.ckpts[k], self.num_classes, self.rt.device)
        norm = loop.Normalizer(*model_lib.normalization(net), self.rt)
        p, _ = loop.predict(net, images, self.rt, norm, 64, self.views, f"fold{k}")
        return p


def oof_scores(models: FoldModels, dd, folds: pd.DataFrame, variants: dict) -> dict:
    """OOF macro F1 of the run's fold models on each validation variant."""
    truth = dd.train.set_index("ID")["target"]
    preds = {name: [] for name in variants}
    y = []
    for k in sorted(models.ckpts):
        ids = folds.loc[folds["fold"] == k, "ID"].tolist()
        y += truth.loc[ids].tolist()
        for name, (corrupt, then) in variants.items():
            imgs = corrupted_set([dd.train_path(i) for i in ids], ids, corrupt, models.cfg.testlike_seed,
                                 models.cfg.img_size, then)
            preds[name] += models.probs(k, imgs).argmax(1).tolist()
    return {name: macro_f1(y, p) for name, p in preds.items()}


def test_scores(models: FoldModels, dd, labels: pd.Series, inputs: dict) -> dict:
    """Test macro F1 of the fold models' mean probabilities on each test-input variant."""
    out = {}
    for name, then in inputs.items():
        imgs = np.stack([resize(then(read_image(p)) if then else read_image(p), models.cfg.img_size)
                         for p in map(dd.test_path, dd.test_ids)])
        p = np.mean([models.probs(k, imgs) for k in sorted(models.ckpts)], axis=0)
        out[name] = macro_f1(labels.loc[dd.test_ids].to_numpy(), p.argmax(1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", required=True, help="a finished full-class run dir")
    ap.add_argument("--labels", required=True, help="ID,target of the data dir's test images")
    args = ap.parse_args()
    torch.set_num_threads(2)
    run_dir = Path(args.run)
    config = read_run_config(run_dir)
    dd = load_truth(config)
    folds = pd.read_csv(Path(config.work_dir) / "folds.csv")
    labels = pd.read_csv(args.labels).set_index("ID")["target"]
    models = FoldModels(run_dir)
    t0 = time.perf_counter()
    oof = oof_scores(models, dd, folds, {"legacy corruption": (legacy_corruption(), None),
                                         "calibrated corruption": (calibrated, None),
                                         "calibrated + deskew": (calibrated, deskewed)})
    test = test_scores(models, dd, labels, {"test images": None, "test images deskewed": deskewed})
    print(f"run {run_dir} ({models.cfg.timm_name}, {models.cfg.img_size} px, {len(models.views)} TTA views, "
          f"{len(models.ckpts)} folds); {time.perf_counter() - t0:.0f} s")
    print("\n| validation (OOF, fold models) | macro F1 | gap to test F1 |\n|---|---|---|")
    for name, f1 in oof.items():
        print(f"| {name} | {f1:.4f} | {f1 - test['test images']:+.4f} |")
    print("\n| test input (fold models averaged) | macro F1 |\n|---|---|")
    for name, f1 in test.items():
        print(f"| {name} | {f1:.4f} |")


if __name__ == "__main__":
    main()
