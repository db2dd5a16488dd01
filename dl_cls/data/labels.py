"""Reading a labels CSV (ID,target), e.g. the sample's test_labels.csv, aligned to a list of IDs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dl_cls.core.errors import DataError, DlClsError
from dl_cls.core.io import read_csv


def _few(ids, n=5) -> str:
    ids = sorted(map(str, ids))
    return ", ".join(ids[:n]) + (f" and {len(ids) - n} more" if len(ids) > n else "")


def read_labels(path, ids: list[str], what: str = "predictions") -> np.ndarray:
    """Targets of `ids` from an ID,target CSV; the ID sets must be equal (error naming both sides otherwise)."""
    path = Path(path)
    df = read_csv(path, "labels file not found")
    if not {"ID", "target"} <= set(df.columns):
        raise DlClsError(f"{path}: needs columns ID,target; found {', '.join(map(str, df.columns))}")
    problems = []
    if df["ID"].duplicated().any():
        problems.append(f"{path}: duplicate IDs {_few(df['ID'][df['ID'].duplicated()])}")
    if not pd.api.types.is_integer_dtype(df["target"]):
        problems.append(f"{path}: target column is not all integers")
    missing, extra = set(ids) - set(df["ID"]), set(df["ID"]) - set(ids)
    if missing:
        problems.append(f"{path}: no label for {len(missing)} ID(s) of the {what}: {_few(missing)}")
    if extra:
        problems.append(f"{path}: {len(extra)} labelled ID(s) missing from the {what}: {_few(extra)}")
    if problems:
        raise DataError(problems, f"labels in {path} do not match the {what}")
    return df.set_index("ID").loc[list(ids), "target"].to_numpy(dtype=int)
