"""One figure per statistic: the folders' histograms overlaid (matplotlib's object API, saved via imaging.viz)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dl_cls.imaging.viz import save_png
from dl_cls.profile.table import DISTRIBUTIONS

PLOTTED = {**DISTRIBUTIONS, "skew": ("residual skew, signed deg", 1)}


def histogram_figure(stat: str, folders: dict[str, pd.DataFrame]) -> Figure:
    label = PLOTTED[stat][0]
    values = {name: d[stat].to_numpy(float) for name, d in folders.items()}
    every = np.concatenate(list(values.values()))
    lo, hi = np.percentile(every, [0.5, 99.5]) if every.size else (0.0, 1.0)
    bins = np.linspace(lo, hi if hi > lo else lo + 1, 41)
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for name, v in values.items():
        ax.hist(np.clip(v, bins[0], bins[-1]), bins=bins, density=True, histtype="step", linewidth=1.6,
                label=f"{name} (n={len(v)}, median {np.median(v):.3g})")
    ax.set_xlabel(label)
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    return fig


def figure_rgb(fig: Figure) -> np.ndarray:
    canvas = fig.canvas
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def save_histograms(folders: dict[str, pd.DataFrame], out: Path) -> list[Path]:
    """out/hist_<stat>.png for every plotted statistic; returns the paths."""
    paths = []
    for stat in PLOTTED:
        path = Path(out) / f"hist_{stat}.png"
        save_png(path, figure_rgb(histogram_figure(stat, folders)))
        paths.append(path)
    return paths
