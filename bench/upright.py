"""Issue 30: the upright member (`pose: upright`) against today's 8-pose member at the same budget (same model, size,
epochs, AUG set, folds) on the embedded sample, demo settings. One process at a time; run it alone on the machine.

    .venv/bin/python bench/upright.py [--work work/bench-upright] [--model tiny] [--img-size 128]
    .venv/bin/python bench/upright.py --pose-only --train-per-class 92   # the pose model at competition size

Prints one row per recipe: test-like OOF macro F1, sample test macro F1 (test_labels.csv), the form family's
(3, 4, 7, 14) test F1, seconds (the upright row splits the pose run out), each as a ratio to the 8-pose row.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sklearn.metrics import f1_score

ROOT = Path(__file__).resolve().parents[1]
DLCLS = [str(ROOT / ".venv" / "bin" / "dl-cls")]
FAMILY = [3, 4, 7, 14]


def sh(*args: str) -> float:
    """Run a dl-cls command; its seconds."""
    t0 = time.time()
    subprocess.run(DLCLS + list(args), check=True, cwd=ROOT)
    return time.time() - t0


def test_scores(run_dir: Path, data: Path) -> tuple[float, float]:
    """(macro F1 on the sample's test labels, macro F1 over the family's rows of the test)."""
    probs = pd.read_csv(run_dir / "test_probs.csv")
    truth = pd.read_csv(data / "test_labels.csv").set_index("ID").loc[probs["ID"], "target"].to_numpy()
    cols = [c for c in probs.columns if c.startswith("p_")]
    pred = np.array([int(c[2:]) for c in cols])[probs[cols].to_numpy().argmax(1)]
    fam = np.isin(truth, FAMILY)
    return (f1_score(truth, pred, average="macro"),
            f1_score(truth[fam], pred[fam], labels=FAMILY, average="macro"))


def prepare(work: Path, data: Path, train_per_class: int) -> Path:
    if not (data / "train.csv").is_file():
        sh("sample", str(data), "--test-per-class", "24", "--train-per-class", str(train_per_class))
        sh("folds", "--data", str(data), "--work", str(work), "--n-folds", "3", "--label-fixes", "none")
    aug = work / "aug" / "doc_x4"
    if not (aug / "complete.json").is_file():
        sh("augment", "--data", str(data), "--work", str(work), "--scale", "4", "--preset", "doc", "--size", "256",
           "--label-fixes", "none", "--out", str(aug), "--no-progress")
    return aug


def member(work: Path, data: Path, aug: Path, name: str, args: argparse.Namespace, *extra: str) -> dict:
    """Train one recipe (or reuse its row from an earlier run of this bench) and score it."""
    saved = work / "rows" / f"{name}.json"
    if saved.is_file():
        return json.loads(saved.read_text())
    seconds = sh("train", "--data", str(data), "--work", str(work), "--model", args.model, "--aug", str(aug),
                 "--name", name, "--label-fixes", "none", f"img_size={args.img_size}", *extra)
    summary = json.loads((work / "runs" / name / "summary.json").read_text())
    test, family = test_scores(work / "runs" / name, data)
    row = {"recipe": name, "oof_testlike": summary["oof_f1"], "test_f1": test, "family_test_f1": family,
           "pose_acc_copies": summary.get("pose_accuracy"), "seconds": seconds,
           "train_images": int(np.mean([f["train_images"] for f in summary["per_fold"]]))}
    saved.parent.mkdir(exist_ok=True)
    saved.write_text(json.dumps(row))
    return row


def epochs_of(run_dir: Path) -> int:
    return int(yaml.safe_load((run_dir / "config.yaml").read_text())["epochs"])


def pose_only(work: Path, data: Path) -> None:
    """The pose model as `make ocr` builds it (held-out fold 0), seconds and held-out accuracy."""
    seconds = sh("orient", "--data", str(data), "--work", str(work), "--label-fixes", "none")
    runs = sorted((work / "runs").glob("orient-*/summary.json"), key=lambda p: p.stat().st_mtime)
    s = json.loads(runs[-1].read_text())
    print(f"pose model: {s['train_pages']} pages, {s['copies']} copies, {s['epochs']} epochs, {s['examples']} "
          f"examples; held out {s['holdout']['accuracy_tta']:.4f} (8-view), {s['holdout']['accuracy']:.4f} "
          f"(one view); {s['total_train_time_s']:.0f} s to build ({seconds:.0f} s with the command)")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, default=ROOT / "work" / "bench-upright")
    p.add_argument("--model", default="tiny")
    p.add_argument("--img-size", type=int, default=128)
    p.add_argument("--train-per-class", type=int, default=24)
    p.add_argument("--pose-only", action="store_true")
    args = p.parse_args()
    work = args.work.resolve()
    data = work / "sample"
    if args.pose_only:
        if not (data / "train.csv").is_file():
            sh("sample", str(data), "--test-per-class", "2", "--train-per-class", str(args.train_per_class))
            sh("folds", "--data", str(data), "--work", str(work), "--n-folds", "3", "--label-fixes", "none")
        pose_only(work, data)
        return 0
    aug = prepare(work, data, args.train_per_class)
    rows = [member(work, data, aug, "all8", args), member(work, data, aug, "upright", args, "--pose", "upright")]
    # the upright member keeps only the AUG copies no turn or mirror touched (~1/3): also at the same optimizer steps
    epochs = round(epochs_of(work / "runs" / "all8") * rows[0]["train_images"] / rows[1]["train_images"])
    rows.append(member(work, data, aug, "upright_same_steps", args, "--pose", "upright", f"epochs={epochs}"))
    pose_run = sorted((work / "runs").glob("orient-*/summary.json"), key=lambda q: q.stat().st_mtime)[-1]
    for row in rows[1:]:
        row["pose_run_s"] = json.loads(pose_run.read_text())["total_train_time_s"]
    table = pd.DataFrame(rows).set_index("recipe")
    base = table.loc["all8"]
    for col in ("oof_testlike", "test_f1", "family_test_f1", "seconds"):
        table[f"{col}_x"] = table[col] / base[col]
    print(table.round(4).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
