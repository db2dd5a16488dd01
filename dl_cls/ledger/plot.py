"""The ledger's bar chart: OOF macro F1 per run and ensemble, coloured by kind."""
from __future__ import annotations

import pandas as pd

from dl_cls.core.errors import DlClsError
from dl_cls.imaging.viz import save_figure

COLORS = {"member": "#4c72b0", "specialist": "#dd8452", "ensemble": "#55a868"}


def plot_scores(table: pd.DataFrame, out) -> None:
    from matplotlib.figure import Figure  # not pyplot: no GUI backend, nothing global

    scored = table.dropna(subset=["oof_f1"]).iloc[::-1]  # best at the top
    if scored.empty:
        raise DlClsError("no scored run to plot yet (finished runs and ensembles have an OOF macro F1)")
    fig = Figure(figsize=(8, 0.9 + 0.32 * len(scored)))
    ax = fig.add_subplot()
    ax.barh(scored["name"], scored["oof_f1"], color=[COLORS.get(k, "grey") for k in scored["kind"]])
    for y, (v, kind) in enumerate(zip(scored["oof_f1"], scored["kind"])):
        ax.text(v, y, f" {v:.4f} {kind}", va="center", fontsize=8)
    ax.set_xlim(0, 1.15)
    ax.set_xlabel("OOF macro F1 (a specialist's is over its own classes)")
    fig.tight_layout()
    save_figure(fig, out)
