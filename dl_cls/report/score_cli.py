"""dl-cls score FILE --labels LABELS: macro F1 and accuracy of a submission.csv (ID,target) or a
test_probs.csv (ID,p_<c>...; arg-max) against a labels CSV (ID,target), e.g. the sample's test_labels.csv."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score

from dl_cls.runs import macro_f1
from dl_cls.errors import DlClsError
from dl_cls.io import read_csv
from dl_cls.data.labels import read_labels


def add_arguments(parser) -> None:
    parser.add_argument("file", help="submission.csv (ID,target) or test_probs.csv (ID,p_0,...)")
    parser.add_argument("--labels", required=True, help="ID,target CSV with the true labels")
    parser.add_argument("--data", default=None, help="data dir whose meta.csv lists the classes (default: the "
                        "classes of the labels file)")


def predictions(path: Path) -> pd.DataFrame:
    """ID,target from a submission or a probability table."""
    df = read_csv(path)
    if "ID" not in df.columns:
        raise DlClsError(f"{path}: no ID column")
    if df["ID"].duplicated().any():
        raise DlClsError(f"{path}: duplicate ID {df['ID'][df['ID'].duplicated()].iloc[0]}")
    prob_cols = [c for c in df.columns if str(c).startswith("p_")]
    if "target" in df.columns:
        if not pd.api.types.is_integer_dtype(df["target"]):
            raise DlClsError(f"{path}: target column is not all integers")
        return df[["ID", "target"]]
    if prob_cols:
        classes = np.array([int(c[2:]) for c in prob_cols])
        return pd.DataFrame({"ID": df["ID"], "target": classes[_probabilities(df, prob_cols, path).argmax(axis=1)]})
    raise DlClsError(f"{path}: needs a target column or p_<class> columns; found {', '.join(df.columns)}")


def _probabilities(df: pd.DataFrame, cols: list[str], path) -> np.ndarray:
    """The p_<c> cells as numbers; a text, missing, infinite or negative cell is an error naming its line."""
    values = df[cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise DlClsError(f"{path}: line {i + 2} (ID {df['ID'].iloc[i]}): {cols[j]} is {df[cols[j]].iloc[i]}, not a "
                         f"probability (a number >= 0); {int(bad.any(axis=1).sum())} such line(s)")
    return values


def check_targets(pred: pd.DataFrame, classes: set[int], path, source: str) -> None:
    """A predicted class that does not exist is an error naming the line, not a silent zero."""
    bad = np.flatnonzero(~pred["target"].isin(classes).to_numpy())
    if len(bad):
        i = bad[0]
        raise DlClsError(f"{path}: line {i + 2} (ID {pred['ID'].iloc[i]}): target {pred['target'].iloc[i]} is not a "
                         f"class of {source} ({min(classes)}..{max(classes)}); {len(bad)} such line(s)")


def run(args) -> int:
    pred = predictions(Path(args.file))
    y = read_labels(args.labels, pred["ID"].tolist(), f"predictions in {args.file}")
    if args.data:
        from dl_cls.data.contract import load_data

        check_targets(pred, set(range(load_data(args.data, None).num_classes)), args.file, f"{args.data}/meta.csv")
    else:
        check_targets(pred, set(range(int(y.max()) + 1)), args.file, f"{args.labels} (pass --data for meta.csv)")
    print(f"{args.file}: macro F1 {macro_f1(y, pred['target']):.4f}  accuracy "
          f"{accuracy_score(y, pred['target']):.4f}  ({len(y)} images)")
    return 0
