"""curves.png of a run: per-fold learning curves from fold*/metrics.csv (is it still learning? over-fitting? how
far is the test-like score below the clean one?). Epochs in metrics.csv and fold.json are 1-based."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from dl_cls.artifacts.runs import FOLD_DONE
from dl_cls.imaging.viz import save_figure


def learning_curves(run_dir: Path, folds: list[int], select_metric: str) -> Figure:
    fig = Figure(figsize=(11, 3.8), layout="constrained")
    ax_f1, ax_loss = fig.subplots(1, 2)
    for i, k in enumerate(folds):
        fold_dir = Path(run_dir) / f"fold{k}"
        m = pd.read_csv(fold_dir / "metrics.csv")
        color = f"C{i % 10}"
        ax_f1.plot(m["epoch"], m["testlike_f1"], "-", color=color, label=f"fold {k} test-like")
        ax_f1.plot(m["epoch"], m["clean_f1"], ":", color=color, label=f"fold {k} clean")
        best = json.loads((fold_dir / FOLD_DONE).read_text()).get("best_epoch")
        if best:
            row = m[m["epoch"] == best]
            if len(row):
                ax_f1.plot(best, row[f"{select_metric}_f1"].iloc[0], "*", color=color, markersize=12)
        ax_loss.plot(m["epoch"], m["train_loss"], "-", color=color, label=f"fold {k}")
    ax_f1.set(xlabel="epoch", ylabel="macro F1", ylim=(0, 1.02),
              title=f"validation F1 (solid test-like, dotted clean; * best.pt by {select_metric})")
    ax_loss.set(xlabel="epoch", ylabel="train loss (mixup targets)", title="train loss")
    ax_f1.legend(fontsize=7, ncol=2)
    ax_loss.legend(fontsize=7)
    for ax in (ax_f1, ax_loss):
        ax.grid(alpha=0.3)
    fig.suptitle(Path(run_dir).name)
    return fig


def save_learning_curves(run_dir: Path, folds: list[int], select_metric: str) -> Path:
    path = Path(run_dir) / "curves.png"
    save_figure(learning_curves(run_dir, folds, select_metric), path)
    return path
