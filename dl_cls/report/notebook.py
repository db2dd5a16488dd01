"""Display helpers for notebooks/confusion_matrix.ipynb, so the notebook itself stays a few calls long."""
from __future__ import annotations

import numpy as np
import pandas as pd

from dl_cls.core.io import encode_image, read_image
from dl_cls.imaging.viz import letterbox
from dl_cls.report.analysis import Analysis


def png(rgb_or_figure):
    """An RGB array or a matplotlib Figure as a displayable PNG (figures here are not pyplot-managed)."""
    from IPython.display import Image

    if isinstance(rgb_or_figure, np.ndarray):
        return Image(data=encode_image(rgb_or_figure, ".png"))
    from dl_cls.imaging.viz import figure_png

    return Image(data=figure_png(rgb_or_figure))


def error_detail(a: Analysis, i: int, top: int = 3) -> tuple[np.ndarray, str]:
    """The i-th misclassified image (most confident mistakes first) and a text with its top classes."""
    errors = a.errors()
    if errors.empty:
        raise IndexError("no misclassified images")
    row = errors.iloc[i % len(errors)]
    probs = a.probs[np.flatnonzero(a.ids == row["ID"])[0]]
    names = a.dd.class_names
    order = np.argsort(-probs)[:top]
    lines = [f"error {i % len(errors) + 1}/{len(errors)}: {row['ID']}",
             f"true {row['true']} {names[row['true']]}   predicted {row['pred']} {names[row['pred']]}"]
    lines += [f"  p={probs[j]:.3f}  {a.classes[j]} {names[a.classes[j]]}" for j in order]
    return letterbox(read_image(a.dd.train_path(row["ID"])), 480, fill=255), "\n".join(lines)


def show_error(a: Analysis, i: int = 0) -> None:
    from IPython.display import display

    img, text = error_detail(a, i)
    print(text)
    display(png(img))


def browse_errors(a: Analysis) -> None:
    """A slider over the misclassified images when ipywidgets is installed; otherwise say how to page."""
    n = len(a.errors())
    if n == 0:
        print("no misclassified images")
        return
    try:
        import ipywidgets
    except ImportError:
        print(f"{n} misclassified images. ipywidgets is not installed (pip install ipywidgets for a slider): "
              "change i in the next cell and re-run it to page through them.")
        return
    ipywidgets.interact(lambda i: show_error(a, i), i=ipywidgets.IntSlider(0, 0, n - 1, description="error"))


def summary(a: Analysis) -> pd.DataFrame:
    return pd.DataFrame({"run": [str(a.run_dir)], "images": [len(a.y_true)], "classes": [len(a.classes)],
                         "macro_f1": [round(a.macro_f1, 4)], "accuracy": [round(a.accuracy, 4)],
                         "misclassified": [int((a.y_pred != a.y_true).sum())]})
