"""dl-cls score FILE --labels LABELS: macro F1 and accuracy of a submission.csv (ID,target) or a
test_probs.csv (ID,p_<c>...; arg-max) against a labels CSV (ID,target), e.g. the sample's test_labels.csv."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score

from dl_cls.artifacts.runs import macro_f1
from dl_cls.core.errors import DlClsError
from dl_cls.core.io import read_csv
from dl_cls.data.labels import read_labels


def add_arguments(parser) -> None:
    parser.add_argument("file", help="submission.csv (ID,target) or test_probs.csv (ID,p_0,...)")
    parser.add_argument("--labels", required=True, help="ID,target CSV with the true labels")
    parser.add_argument("--data", default=None, help="data dir whose meta.csv lists the classes (default: the "
                        "classes of the labels file)")


def predictions(path: Path) -> tuple[pd.DataFrame, list[int] | None]:
    """(ID,target, the classes of its p_<c> columns or None) from a submission or a probability table. Cells are
    read as written, so a message shows what the file holds (an empty cell is called empty, not nan)."""
    df = read_csv(path, dtype=str, keep_default_na=False)
    if "ID" not in df.columns:
        raise DlClsError(f"{path}: no ID column")
    if df["ID"].duplicated().any():
        raise DlClsError(f"{path}: duplicate ID {df['ID'][df['ID'].duplicated()].iloc[0]}")
    prob_cols = [c for c in df.columns if str(c).startswith("p_")]
    if "target" in df.columns:
        if not df["target"].str.strip().str.fullmatch(r"-?[0-9]+").all():
            raise DlClsError(f"{path}: target column is not all integers")
        return pd.DataFrame({"ID": df["ID"], "target": df["target"].astype(int)}), None
    if prob_cols:
        if not all(re.fullmatch(r"p_[0-9]+", c) for c in prob_cols):
            raise DlClsError(f"{path}: probability columns must be named p_<class index>; found {', '.join(prob_cols)}")
        cols = [int(c[2:]) for c in prob_cols]
        target = np.array(cols)[_probabilities(df, prob_cols, path).argmax(axis=1)]
        return pd.DataFrame({"ID": df["ID"], "target": target}), cols
    raise DlClsError(f"{path}: needs a target column or p_<class> columns; found {', '.join(df.columns)}")


def _check_prob_columns(cols: list[int] | None, classes: set[int], path, source: str) -> None:
    """A probability table scored against K classes has p_0..p_<K-1>: a missing one would silently never be
    predicted."""
    missing = sorted(classes - set(cols)) if cols is not None else []
    if missing:
        raise DlClsError(f"{path}: no column for class(es) {', '.join(map(str, missing))} of {source}; a table "
                         "scored against every class needs p_<c> for each")


def _probabilities(df: pd.DataFrame, cols: list[str], path) -> np.ndarray:
    """The p_<c> cells as numbers; a text, empty, infinite, negative or above-1 cell is an error naming its line."""
    values = df[cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < 0) | (values > 1 + 1e-6)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        cell = df[cols[j]].iloc[i]
        raise DlClsError(f"{path}: line {i + 2} (ID {df['ID'].iloc[i]}): {cols[j]} is {cell or 'empty'}, not a "
                         f"probability (a number in [0, 1]); {int(bad.any(axis=1).sum())} such line(s)")
    return values


def check_targets(pred: pd.DataFrame, classes: set[int], path, source: str) -> None:
    """A predicted class that does not exist is an error naming the line, not a silent zero."""
    bad = np.flatnonzero(~pred["target"].isin(classes).to_numpy())
    if len(bad):
        i = bad[0]
        raise DlClsError(f"{path}: line {i + 2} (ID {pred['ID'].iloc[i]}): target {pred['target'].iloc[i]} is not a "
                         f"class of {source} ({min(classes)}..{max(classes)}); {len(bad)} such line(s)")


def run(args) -> int:
    pred, prob_classes = predictions(Path(args.file))
    y = read_labels(args.labels, pred["ID"].tolist(), f"predictions in {args.file}")
    if args.data:
        from dl_cls.data.contract import load_data

        classes, source = set(range(load_data(args.data, None).num_classes)), f"{args.data}/meta.csv"
    else:
        classes, source = set(range(int(y.max()) + 1)), f"{args.labels} (pass --data for meta.csv)"
    _check_prob_columns(prob_classes, classes, args.file, source)
    check_targets(pred, classes, args.file, source)
    print(f"{args.file}: macro F1 {macro_f1(y, pred['target']):.4f}  accuracy "
          f"{accuracy_score(y, pred['target']):.4f}  ({len(y)} images)")
    return 0
