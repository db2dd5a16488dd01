"""Builders shared by the ensemble/report/notebook/submission tests: a tiny fake data dir and fake trainer runs.
(No tests here; the trainer is not needed: runs are written from hand-built probability tables.)"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import yaml


def make_data(root: Path, train_targets, n_test: int, num_classes: int, image_size: int = 24) -> Path:
    """train.csv/meta.csv/sample_submission.csv plus small real JPEGs (one flat colour per class)."""
    root = Path(root)
    (root / "train").mkdir(parents=True)
    (root / "test").mkdir()
    train = pd.DataFrame({"ID": [f"tr{i:04d}.jpg" for i in range(len(train_targets))],
                          "target": np.asarray(train_targets, int)})
    test_ids = [f"te{i:04d}.jpg" for i in range(n_test)]
    for i, (image_id, t) in enumerate(zip(train["ID"], train["target"])):
        img = np.full((image_size, image_size + 8, 3), (t * 37) % 256, np.uint8)
        img[2:6, 2 + i % 10] = 255
        cv2.imwrite(str(root / "train" / image_id), img)
    for image_id in test_ids:
        cv2.imwrite(str(root / "test" / image_id), np.full((image_size, image_size, 3), 128, np.uint8))
    train.to_csv(root / "train.csv", index=False)
    pd.DataFrame({"target": range(num_classes),
                  "class_name": [f"class_{c}_name" for c in range(num_classes)]}).to_csv(root / "meta.csv", index=False)
    pd.DataFrame({"ID": test_ids, "target": 0}).to_csv(root / "sample_submission.csv", index=False)
    return root


def make_run(run_dir: Path, data_dir: Path, ids, folds, oof_probs, test_ids, test_probs, classes=None,
             num_classes=None) -> Path:
    """A run dir as the trainer writes it: config.yaml, oof.csv, test_probs.csv."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True)
    oof_probs, test_probs = np.asarray(oof_probs, float), np.asarray(test_probs, float)
    cols = [f"p_{c}" for c in (classes if classes is not None else range(oof_probs.shape[1]))]
    config = {"data_dir": str(data_dir), "label_fixes": None, "classes": classes,
              "num_classes": num_classes or (oof_probs.shape[1] if classes is None else None),
              "model": "fake", "seed": 0}
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    oof = pd.DataFrame(oof_probs, columns=cols)
    oof.insert(0, "fold", np.asarray(folds, int))
    oof.insert(0, "ID", list(ids))
    oof.to_csv(run_dir / "oof.csv", index=False)
    test = pd.DataFrame(test_probs, columns=cols)
    test.insert(0, "ID", list(test_ids))
    test.to_csv(run_dir / "test_probs.csv", index=False)
    return run_dir


def noisy_probs(y, num_classes: int, accuracy: float, rng, confuse: dict[int, list[int]] | None = None):
    """Probabilities whose arg-max is right with roughly `accuracy` (a number or one per row); wrong ones go to
    `confuse[y]` if given."""
    y = np.asarray(y)
    accuracy = np.broadcast_to(accuracy, y.shape)
    probs = rng.dirichlet(np.ones(num_classes), len(y)) * 0.3
    for i, t in enumerate(y):
        if rng.random() < accuracy[i]:
            top = t
        else:
            pool = (confuse or {}).get(int(t)) or [c for c in range(num_classes) if c != t]
            top = rng.choice(pool)
        probs[i, top] += 1.0
    return probs / probs.sum(axis=1, keepdims=True)


K = 6


def make_project(tmp_path: Path) -> dict:
    """A fake data dir and three full runs a/b/c + one specialist `spec` on {2,3,4} under tmp/work/runs;
    the runs confuse 2/3/4 with each other."""
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(K), 15)
    folds = np.arange(len(y)) % 5
    data = make_data(tmp_path / "data", y, 12, K)
    ids = pd.read_csv(data / "train.csv")["ID"].tolist()
    test_ids = pd.read_csv(data / "sample_submission.csv")["ID"].tolist()
    conf = {2: [3], 3: [2, 4], 4: [3]}
    for name in ("a", "b", "c"):
        accuracy = np.where(np.isin(y, [2, 3, 4]), 0.6, 0.97)
        make_run(tmp_path / "work/runs" / name, data, ids, folds, noisy_probs(y, K, accuracy, rng, conf),
                 test_ids, rng.dirichlet(np.ones(K), 12))
    G = [2, 3, 4]
    m = np.isin(y, G)
    make_run(tmp_path / "work/runs/spec", data, np.array(ids)[m], folds[m],
             noisy_probs(np.searchsorted(G, y[m]), 3, 0.9, rng), test_ids, rng.dirichlet(np.ones(3), 12),
             classes=G, num_classes=K)
    return dict(tmp=tmp_path, work=tmp_path / "work", data=data, ids=ids, test_ids=test_ids, y=y, folds=folds)
