"""Report images: the confusion matrix (matplotlib) and the gallery of misclassified images."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure  # the object API: no pyplot state, no display needed (CLI, tests, notebook)

from dl_cls.core.io import read_image
from dl_cls.imaging.viz import contact_sheet
from dl_cls.report.analysis import Analysis

MAX_LABEL = 28  # characters of a class name on an axis


def confusion_figure(a: Analysis):
    """Counts (left) and row-normalised rates (right), class index + name on both axes."""
    cm = a.cm
    rates = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    k = len(a.classes)
    labels = [lab if len(lab) <= MAX_LABEL else lab[: MAX_LABEL - 2] + ".." for lab in a.labels]
    side = max(4.0, 0.42 * k + 2.5)
    fig = Figure(figsize=(2 * side + 1, side + 0.8), layout="constrained")
    axes = fig.subplots(1, 2)
    font = 8 if k <= 10 else 6
    for ax, values, title, fmt in ((axes[0], cm, "counts", "d"), (axes[1], rates, "row-normalised (recall)", ".2f")):
        ax.imshow(values, cmap="Blues", vmin=0, vmax=max(values.max(), 1e-9))
        ax.set_title(f"{a.name}: {title}")
        ax.set_xticks(range(k), labels, rotation=90, fontsize=font)
        ax.set_yticks(range(k), labels, fontsize=font)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        high = values.max() / 2
        for i in range(k):
            for j in range(k):
                if cm[i, j]:
                    ax.text(j, i, format(values[i, j], fmt), ha="center", va="center", fontsize=font,
                            color="white" if values[i, j] > high else "black")
    fig.suptitle(f"OOF macro F1 {a.macro_f1:.4f}, accuracy {a.accuracy:.4f}, {len(a.y_true)} images")
    return fig


def error_caption(a: Analysis, row) -> str:
    names = a.dd.class_names
    return (f"{row.confidence:.2f} true {row.true} {names[row.true][:14]} pred {row.pred} {names[row.pred][:14]} "
            f"{row.ID}")


def error_gallery(a: Analysis, max_images: int = 40, ncols: int = 8, tile: int = 160) -> np.ndarray | None:
    """Misclassified validation images, most confident mistakes first; None when there are none."""
    errors = a.errors().head(max_images)
    if errors.empty:
        return None
    images = [read_image(a.dd.train_path(i)) for i in errors["ID"]]
    captions = [error_caption(a, row) for row in errors.itertuples()]
    title = (f"{a.name}: {len(a.errors())} misclassified OOF images (showing {len(errors)}); "
             "confidence, true, predicted")
    return contact_sheet(images, captions, ncols=ncols, tile=tile, title=title)
