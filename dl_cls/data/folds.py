"""folds.csv: one stratified k-fold split over the original train IDs, shared by every model.

Split first, augment second: an augmented image belongs to the fold of its `source_id`, so
`train_rows_for_fold` can never hand a validation image's copies to that fold's training side.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from dl_cls.core.errors import DataError, DlClsError
from dl_cls.core.io import atomic_write_csv, atomic_write_text, data_key, read_csv
from dl_cls.data.contract import DataDir

FOLDS_FILE = "folds.csv"
SETTINGS_FILE = "folds.json"
# source_id of a pseudo-labelled test image (`dl-cls pseudo`): it belongs to no fold, so it only ever trains
PSEUDO_PREFIX = "pseudo:"
NO_FOLD = -1


def train_table_hash(train: pd.DataFrame) -> str:
    """Hash of the (label-fixed) train table: folds made from other labels are other folds."""
    return hashlib.sha256(train[["ID", "target"]].to_csv(index=False).encode()).hexdigest()[:16]


def make_folds(train: pd.DataFrame, n_folds: int = 5, seed: int = 42) -> pd.DataFrame:
    """Stratified k-fold assignment, ID,fold in train order."""
    if n_folds < 2:
        raise DlClsError(f"n_folds must be at least 2, got {n_folds}")
    counts = train["target"].value_counts()
    if counts.max() < n_folds:
        raise DlClsError(f"cannot make {n_folds} stratified folds: the largest class has {counts.max()} images")
    small = counts[counts < n_folds]
    if len(small):
        raise DlClsError(
            f"cannot make {n_folds} stratified folds: class(es) {', '.join(map(str, small.index))} have fewer "
            f"than {n_folds} images ({', '.join(map(str, small.values))}); use fewer folds")
    skf = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    fold = pd.Series(-1, index=train.index, dtype=int)
    for k, (_, val_idx) in enumerate(skf.split(train["ID"], train["target"])):
        fold.iloc[val_idx] = k
    return pd.DataFrame({"ID": train["ID"].to_numpy(), "fold": fold.to_numpy()})


def ensure_folds(work_dir, dd: DataDir, n_folds: int = 5, seed: int = 42, force: bool = False) -> pd.DataFrame:
    """Write WORK/folds.csv once; later calls with the same settings reuse it, other settings need force."""
    work_dir = Path(work_dir)
    path, settings_path = work_dir / FOLDS_FILE, work_dir / SETTINGS_FILE
    settings = {"n_folds": n_folds, "seed": seed, "train_hash": train_table_hash(dd.train),
                "data_dir": data_key(dd.root)}
    if path.exists() and not force:
        old = _read_settings(settings_path)
        same = {k: old.get(k) for k in ("n_folds", "seed", "train_hash")} == {
            k: settings[k] for k in ("n_folds", "seed", "train_hash")}
        if not same:
            raise DlClsError(
                f"{path} exists and was made with other settings or labels ({_describe(old)}; now "
                f"{_describe(settings)}). Every model must share one folds.csv so their OOF rows line up: reuse "
                "it, point --work elsewhere, or regenerate with --force (invalidates OOF of earlier runs)")
        return load_folds(work_dir, dd)
    folds = make_folds(dd.train, n_folds, seed)
    atomic_write_text(settings_path, json.dumps(settings, indent=2) + "\n")
    atomic_write_csv(folds, path)
    return folds


def _read_settings(path: Path) -> dict:
    """folds.json (the settings folds.csv was made with); {} when absent, one error naming it when damaged."""
    if not path.exists():
        return {}
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DlClsError(f"{path}: not readable JSON ({exc}); it records the settings of folds.csv beside it: "
                         "restore it, or regenerate both with `dl-cls folds --force` (the same --seed and "
                         "--n-folds give the same split)") from None
    if not isinstance(old, dict):
        raise DlClsError(f"{path}: expected a JSON object of settings, found {type(old).__name__}; restore it "
                         "or regenerate both with `dl-cls folds --force`")
    return old


def _describe(s: dict) -> str:
    return f"n_folds={s.get('n_folds')}, seed={s.get('seed')}, train_hash={s.get('train_hash')}"


def load_folds(work_dir, dd: DataDir | None = None) -> pd.DataFrame:
    """Read WORK/folds.csv; with a DataDir, its IDs must be exactly the train IDs."""
    path = Path(work_dir) / FOLDS_FILE
    if not path.is_file():
        raise DlClsError(f"{path} not found: run `dl-cls folds` (or `make folds`) first")
    cut = _cut_short(path)
    folds = pd.DataFrame(columns=["ID", "fold"]) if cut == "empty file" else \
        read_csv(path, dtype=str, keep_default_na=False)
    if list(folds.columns) != ["ID", "fold"]:
        raise DataError([f"{path}: columns must be ID,fold; found {','.join(map(str, folds.columns))}"])
    _check_fold_numbers(path, folds, cut)
    if cut or folds.empty:
        raise DlClsError(f"{path}: {cut or 'no rows'}" + _REGENERATE)
    folds["fold"] = folds["fold"].str.strip().astype(int)
    n_folds = _check_split(path, folds)
    if dd is not None:
        _check_ids(path, folds, dd)  # first: rows cut at a line boundary are named as such, not as an empty fold
        folds = folds.set_index("ID").loc[dd.train["ID"]].reset_index()
    _check_no_empty_fold(path, folds, n_folds)
    return folds


def _check_fold_numbers(path: Path, folds: pd.DataFrame, cut: str | None) -> None:
    """Every fold is a plain number (0, 1, ...); the last line of a cut file is left to the cut-short message."""
    bad = [i for i, v in enumerate(folds["fold"]) if not re.fullmatch(r"[0-9]+", str(v).strip())]
    if bad and not (cut and bad == [len(folds) - 1]):
        i = bad[0]
        raise DlClsError(f"{path}: line {i + 2}: fold {str(folds['fold'].iloc[i])!r} is not a fold number (0, 1, "
                         f"...), ID {folds['ID'].iloc[i]}; {len(bad)} such line(s)" + _REGENERATE)


def _check_split(path: Path, folds: pd.DataFrame) -> int:
    """Each ID once, and only the folds of the split (folds.json's n_folds): an edited row would otherwise train
    on the last of two folds, or plan a fold of one image. Returns the split's number of folds."""
    dup = folds["ID"][folds["ID"].duplicated(keep=False)]
    if len(dup):
        first = dup.iloc[0]
        lines = [str(i + 2) for i in dup.index[dup == first]]
        times = "twice" if len(lines) == 2 else f"{len(lines)} times"
        raise DlClsError(f"{path}: ID {first} is listed {times} (lines {' and '.join(lines)}); "
                         f"{dup.nunique()} such ID(s)" + _REGENERATE)
    n_folds = _read_settings(path.parent / SETTINGS_FILE).get("n_folds")
    where = f"folds.json: n_folds={n_folds}" if isinstance(n_folds, int) else "the folds it has"
    if not isinstance(n_folds, int):
        n_folds = folds["fold"].nunique()
    outside = np.flatnonzero(folds["fold"].to_numpy() >= n_folds)
    if len(outside):
        i = outside[0]
        raise DlClsError(f"{path}: line {i + 2}: fold {folds['fold'].iloc[i]} is not a fold of this split ({where}, "
                         f"folds 0..{n_folds - 1}), ID {folds['ID'].iloc[i]}; {len(outside)} such line(s)"
                         + _REGENERATE)
    return n_folds


def _check_no_empty_fold(path: Path, folds: pd.DataFrame, n_folds: int) -> None:
    empty = sorted(set(range(n_folds)) - set(folds["fold"]))
    if empty:
        raise DlClsError(f"{path}: fold(s) {', '.join(map(str, empty))} of the {n_folds} have no ID" + _REGENERATE)


_REGENERATE = ("; regenerate it with `dl-cls folds --force` (the --seed and --n-folds in folds.json give the same "
               "split, so runs made on it stay valid)")


def _cut_short(path: Path) -> str | None:
    """Why the file looks cut short (a full disk, an interrupted copy), or None: a CSV ends with a newline."""
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        if fh.tell() == 0:
            return "empty file"
        fh.seek(-1, 2)
        return None if fh.read(1) == b"\n" else "cut short (it ends in the middle of a line)"


def _check_ids(path: Path, folds: pd.DataFrame, dd: DataDir) -> None:
    problems = []
    missing = sorted(set(dd.train["ID"]) - set(folds["ID"]))
    extra = sorted(set(folds["ID"]) - set(dd.train["ID"]))
    if missing and not extra:  # every ID it has is ours: rows were lost, not another data dir's file
        raise DlClsError(f"{path}: has {len(folds)} of the {len(dd.train)} train IDs and no ID that is not in "
                         f"train.csv: it looks cut short (a full disk, an interrupted copy) or rows were deleted, e.g. "
                         f"{', '.join(missing[:3])} have no fold" + _REGENERATE)
    if missing:
        problems.append(f"{path}: {len(missing)} train ID(s) have no fold, e.g. {', '.join(missing[:5])}")
    if extra:
        problems.append(f"{path}: {len(extra)} ID(s) are not in train.csv, e.g. {', '.join(extra[:5])}")
    if problems:
        raise DataError(problems + ["folds.csv belongs to another data dir: use another --work or --force"])


def is_pseudo(source_ids: pd.Series) -> pd.Series:
    """Rows made from a pseudo-labelled test image rather than a train image."""
    return source_ids.astype(str).str.startswith(PSEUDO_PREFIX)


def manifest_folds(manifest: pd.DataFrame, folds: pd.DataFrame) -> pd.Series:
    """Fold of each manifest row, through its source_id (the original train ID it was made from); NO_FOLD for a
    pseudo-labelled test image, which is in no validation fold and so on every fold's training side."""
    fold_of = dict(zip(folds["ID"], folds["fold"]))
    mapped = manifest["source_id"].map(fold_of)
    mapped[is_pseudo(manifest["source_id"])] = NO_FOLD
    unknown = manifest.loc[mapped.isna(), "source_id"].unique()
    if len(unknown):
        raise DataError([f"manifest: {len(unknown)} source_id(s) are not in folds.csv, e.g. "
                         f"{', '.join(map(str, unknown[:5]))} (augmented from another data dir?)"])
    return mapped.astype(int)


def train_rows_for_fold(manifest: pd.DataFrame, folds: pd.DataFrame, k: int) -> pd.DataFrame:
    """Manifest rows fold k may train on: those whose source is not in fold k."""
    return manifest[manifest_folds(manifest, folds) != k]
