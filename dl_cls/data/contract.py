"""The competition data contract: load a data dir, apply label fixes, and validate everything.

A data dir holds train.csv (ID,target), meta.csv (target,class_name), train/, test/ and
sample_submission.csv (ID,target). `load_data` checks the CSVs and that the listed files exist (cheap, every
stage calls it); `check_data` also decodes every image. Both collect every problem before raising.
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from dl_cls.core.config import CONFIG_DIR
from dl_cls.core.errors import DataError, DlClsError
from dl_cls.core.io import read_csv

log = logging.getLogger("dl_cls")

DEFAULT_LABEL_FIXES = CONFIG_DIR / "label_fixes.csv"
CSV_COLUMNS = {
    "train.csv": ["ID", "target"],
    "meta.csv": ["target", "class_name"],
    "sample_submission.csv": ["ID", "target"],
}
FIX_COLUMNS = ["ID", "old_target", "new_target", "reason"]
ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}  # PIL modes with an alpha channel


@dataclass
class DataDir:
    root: Path
    train: pd.DataFrame  # ID,target after label fixes, in train.csv order
    meta: pd.DataFrame  # target,class_name sorted by target
    test_ids: list[str]  # sample_submission.csv order
    fixes_applied: int = 0
    fix_notes: list[str] = field(default_factory=list)

    @property
    def train_dir(self) -> Path:
        return self.root / "train"

    @property
    def test_dir(self) -> Path:
        return self.root / "test"

    @property
    def num_classes(self) -> int:
        return len(self.meta)

    @property
    def class_names(self) -> list[str]:
        return self.meta["class_name"].tolist()

    def train_path(self, image_id: str) -> Path:
        return self.train_dir / image_id

    def test_path(self, image_id: str) -> Path:
        return self.test_dir / image_id


@dataclass
class CheckReport:
    root: Path
    problems: list[str]
    summary: str

    @property
    def ok(self) -> bool:
        return not self.problems


def _row(i: int) -> int:
    """CSV line number of DataFrame row i (line 1 is the header)."""
    return int(i) + 2


def _read_csv(path: Path, columns: list[str], problems: list[str]) -> pd.DataFrame | None:
    if not path.is_file():
        problems.append(f"{path}: file missing")
        return None
    try:
        df = read_csv(path, dtype=str, keep_default_na=False)
    except DlClsError as exc:  # not UTF-8, not a CSV: one problem among the others found
        problems.append(str(exc))
        return None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        problems.append(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, df.columns))}, "
                        f"expected {', '.join(columns)}")
        return None
    return df


def int_column(df: pd.DataFrame, col: str, path: Path, problems: list[str], id_col: str | None = None) -> pd.Series:
    """Parse a column of integers written as integers ("3"; "3.0" or "3e0" are refused in every CSV, as a
    grader would); each bad cell is a problem naming its row and becomes <NA>."""
    text = df[col].astype(str).str.strip()
    values = pd.to_numeric(text.where(text.str.fullmatch(r"[+-]?\d+")), errors="coerce")
    bad = values.isna()
    for i in np.flatnonzero(bad.to_numpy()):
        who = f" (ID {df[id_col].iloc[i]})" if id_col else ""
        problems.append(f"{path}: row {_row(i)}{who}: {col} {df[col].iloc[i]!r} is not an integer")
    return values.where(~bad).astype("Int64")


def _duplicates(df: pd.DataFrame, path: Path, problems: list[str]) -> None:
    dup = df["ID"].duplicated(keep=False)
    for image_id, rows in df[dup].groupby("ID").groups.items():
        problems.append(f"{path}: duplicate ID {image_id} at rows {', '.join(str(_row(r)) for r in rows)}")


def _same_stems(df: pd.DataFrame, path: Path, problems: list[str]) -> None:
    """a.jpg and a.png in one split: augmented copies and OCR entries are named by stem, so they would collide."""
    stems = df["ID"].map(_stem)
    clash = stems.duplicated(keep=False) & ~df["ID"].duplicated(keep=False)
    for stem, rows in df[clash].groupby(stems[clash]).groups.items():
        ids = ", ".join(df["ID"].loc[rows])
        problems.append(f"{path}: rows {', '.join(str(_row(r)) for r in rows)}: IDs {ids} share the name {stem!r}; "
                        "rename one (outputs are named by the name without its extension)")


def resolve_label_fixes(label_fixes) -> Path | None:
    """'default' -> the shipped configs/label_fixes.csv; None/'none' -> no fixes; otherwise a path."""
    if label_fixes is None or str(label_fixes).lower() == "none":
        return None
    if str(label_fixes) == "default":
        return DEFAULT_LABEL_FIXES
    path = Path(label_fixes)
    if not path.is_file():
        raise DlClsError(f"label fixes file {path} not found (use --label-fixes none to disable fixes)")
    return path


def _stem(image_id: str) -> str:
    return Path(image_id).stem


def apply_label_fixes(train: pd.DataFrame, fixes_path: Path, num_classes: int) -> tuple[pd.DataFrame, int, list[str]]:
    """Apply fixes; fixes naming IDs not in train.csv are skipped with one note (other datasets), a fix whose
    old_target does not match is an error. IDs match with or without their file extension."""
    problems: list[str] = []
    fixes = _read_csv(fixes_path, FIX_COLUMNS[:3], problems)
    if fixes is None:
        raise DataError(problems, "label fixes file is bad")
    old = int_column(fixes, "old_target", fixes_path, problems, "ID")
    new = int_column(fixes, "new_target", fixes_path, problems, "ID")
    by_stem = {_stem(i): pos for pos, i in enumerate(train["ID"])}
    train = train.copy()
    targets = train["target"].to_numpy(dtype=int).copy()
    absent, applied = [], 0
    for i, image_id in enumerate(fixes["ID"]):
        pos = by_stem.get(_stem(image_id))
        if pos is None:
            absent.append(f"row {_row(i)}: {image_id}")
            continue
        if pd.isna(old.iloc[i]) or pd.isna(new.iloc[i]):
            continue  # already reported
        if not 0 <= new.iloc[i] < num_classes:
            problems.append(f"{fixes_path}: row {_row(i)} (ID {image_id}): new_target {new.iloc[i]} is not a class "
                            f"in meta.csv (0..{num_classes - 1})")
            continue
        if targets[pos] != old.iloc[i]:
            problems.append(f"{fixes_path}: row {_row(i)} (ID {image_id}): old_target {old.iloc[i]} does not match "
                            f"train.csv target {targets[pos]}")
            continue
        targets[pos] = new.iloc[i]
        applied += 1
    if problems:
        raise DataError(problems, "label fixes do not match this data")
    train["target"] = targets
    return train, applied, _absent_note(fixes_path, absent, len(fixes))


def _absent_note(fixes_path: Path, absent: list[str], total: int) -> list[str]:
    """One note for every fix whose ID train.csv lacks (a line per fix was 8 lines on any other data set)."""
    if not absent:
        return []
    what = f"label fixes: {len(absent)} of {total} in {fixes_path} name IDs not in train.csv"
    if len(absent) == total:
        return [f"{what} (not this competition's data?); none applied"]
    shown = "; ".join(absent[:5]) + (f" and {len(absent) - 5} more" if len(absent) > 5 else "")
    return [f"{what} ({shown}); those skipped, {total - len(absent)} applied"]


def _load(root: Path, label_fixes, problems: list[str]) -> DataDir | None:
    """Shared CSV + file-existence checks; appends problems and returns None when unusable."""
    if not root.is_dir():
        problems.append(f"{root}: data dir not found")
        return None
    frames = {name: _read_csv(root / name, cols, problems) for name, cols in CSV_COLUMNS.items()}
    meta_df, train_df, sub_df = frames["meta.csv"], frames["train.csv"], frames["sample_submission.csv"]
    num_classes = None
    if meta_df is not None:
        meta_df, num_classes = _check_meta(meta_df, root / "meta.csv", problems)
    for name, df in (("train.csv", train_df), ("sample_submission.csv", sub_df)):
        if df is not None:
            _duplicates(df, root / name, problems)
            _same_stems(df, root / name, problems)
    if train_df is not None:
        train_df = _check_train(train_df, root, num_classes, problems)
    if sub_df is not None:
        _check_test_files(sub_df, root, problems)
    if problems or train_df is None or meta_df is None or sub_df is None:
        return None
    fixes_path = resolve_label_fixes(label_fixes)
    applied, notes = 0, []
    if fixes_path is not None:
        train_df, applied, notes = apply_label_fixes(train_df, fixes_path, num_classes)
    return DataDir(root=root, train=train_df.astype({"target": int}).reset_index(drop=True),
                   meta=meta_df.astype({"target": int}), test_ids=sub_df["ID"].tolist(), fixes_applied=applied,
                   fix_notes=notes)


def _check_meta(meta_df: pd.DataFrame, path: Path, problems: list[str]) -> tuple[pd.DataFrame, int | None]:
    """meta.csv: targets exactly 0..K-1, one row each; returns (sorted meta, K or None when broken)."""
    targets = int_column(meta_df, "target", path, problems)
    meta_df = meta_df.assign(target=targets)
    num_classes = None
    if len(meta_df) == 0:
        problems.append(f"{path}: no classes")
    elif targets.isna().any():
        pass  # already reported per row
    elif sorted(targets.tolist()) != list(range(len(meta_df))):
        problems.append(f"{path}: targets must be exactly 0..{len(meta_df) - 1}, one row each; "
                        f"found {sorted(targets.tolist())}")
    else:
        num_classes = len(meta_df)
    return meta_df.sort_values("target").reset_index(drop=True)[["target", "class_name"]], num_classes


def _check_train(train_df: pd.DataFrame, root: Path, num_classes: int | None, problems: list[str]) -> pd.DataFrame:
    """train.csv: integer targets of meta's classes, every listed image present in train/."""
    path = root / "train.csv"
    if len(train_df) == 0:
        problems.append(f"{path}: empty train set (no rows)")
    targets = int_column(train_df, "target", path, problems, "ID")
    train_df = train_df.assign(target=targets)[["ID", "target"]]
    if num_classes is not None:
        out_of_range = ((targets < 0) | (targets >= num_classes)).fillna(False).to_numpy(dtype=bool)
        for i in np.flatnonzero(out_of_range):
            problems.append(f"{path}: row {_row(i)} (ID {train_df['ID'].iloc[i]}): target "
                            f"{targets.iloc[i]} is not in meta.csv (0..{num_classes - 1})")
    train_dir = root / "train"
    if not train_dir.is_dir():
        problems.append(f"{train_dir}: directory missing")
        return train_df
    present = {p.name for p in train_dir.iterdir()}
    for i, image_id in enumerate(train_df["ID"]):
        if image_id not in present:
            problems.append(f"{path}: row {_row(i)}: image {train_dir / image_id} is missing")
    return train_df


def _check_test_files(sub_df: pd.DataFrame, root: Path, problems: list[str]) -> None:
    """Every sample_submission ID has its image in test/, and test/ holds no unlisted image."""
    path, test_dir = root / "sample_submission.csv", root / "test"
    if not test_dir.is_dir():
        problems.append(f"{test_dir}: directory missing")
        return
    present = {p.name for p in test_dir.iterdir() if not p.name.startswith(".")}
    for i, image_id in enumerate(sub_df["ID"]):
        if image_id not in present:
            problems.append(f"{path}: row {_row(i)}: test image {test_dir / image_id} is missing")
    extra = sorted(present - set(sub_df["ID"]))
    if extra:
        shown = ", ".join(extra[:10]) + (f" and {len(extra) - 10} more" if len(extra) > 10 else "")
        problems.append(f"{test_dir}: {len(extra)} file(s) not listed in {path.name}: {shown}")


def load_data(root, label_fixes="default") -> DataDir:
    """Load and validate a data dir's CSVs (not the image bytes). Raises DataError listing every problem."""
    root = Path(root)
    problems: list[str] = []
    dd = _load(root, label_fixes, problems)
    if dd is None:
        raise DataError(problems, f"{root} does not follow the data contract")
    for note in dd.fix_notes:  # said once per command (dl_cls.cli), though a stage may load its data twice
        log.warning(note)
    if not dd.fix_notes and label_fixes is not None and str(label_fixes).lower() != "none":
        log.info("label fixes applied: %d", dd.fixes_applied)
    return dd


def inspect_image(path: Path) -> tuple[tuple[int, int, str] | None, str | None]:
    """((width, height, mode), None) for a good image, (None, problem) otherwise. PIL's full decode catches
    truncated files that OpenCV decodes with only a warning."""
    try:
        if path.stat().st_size == 0:
            return None, f"{path}: zero-byte file"
        with Image.open(path) as im:
            im.load()
            return (im.width, im.height, im.mode), None
    except FileNotFoundError:
        return None, f"{path}: missing"
    except OSError as exc:  # PIL raises UnidentifiedImageError (an OSError) / "image file is truncated"
        kind = "truncated" if "truncated" in str(exc) else "not a readable image"
        return None, f"{path}: {kind} ({exc})"
    except Exception as exc:  # noqa: BLE001 - a decoder bug on a hostile file is still a bad file
        return None, f"{path}: not a readable image ({exc})"


def inspect_images(paths: list[Path]) -> list[tuple[tuple[int, int, str] | None, str | None]]:
    # PIL releases the GIL while decoding, so threads give a real speed-up here.
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(inspect_image, paths))


def _size_stats(infos: list[tuple[int, int, str]]) -> str:
    if not infos:
        return "no readable images"
    w = np.array([i[0] for i in infos])
    h = np.array([i[1] for i in infos])
    modes = pd.Series([i[2] for i in infos]).value_counts()
    return (f"width {w.min()}-{w.max()} (median {int(np.median(w))}), height {h.min()}-{h.max()} "
            f"(median {int(np.median(h))}); modes: " + ", ".join(f"{m} {n}" for m, n in modes.items()))


def check_data(root, label_fixes="default", progress: bool = False) -> CheckReport:
    """Validate everything, image bytes included; return every problem and a printable summary."""
    root = Path(root)
    problems: list[str] = []
    try:
        dd = _load(root, label_fixes, problems)
    except DataError as exc:  # label fix mismatches
        problems.extend(exc.problems)
        dd = None
    lines = [f"data dir: {root}"]
    # Decode whatever images are listed, even when the CSVs had problems, so one run shows everything.
    train_ids = dd.train["ID"].tolist() if dd else _listed_ids(root / "train.csv")
    test_ids = dd.test_ids if dd else _listed_ids(root / "sample_submission.csv")
    for split, ids in (("train", train_ids), ("test", test_ids)):
        paths = [root / split / i for i in ids if (root / split / i).exists()]
        results = inspect_images(paths)
        problems.extend(p for _, p in results if p)
        good = [info for info, _ in results if info]
        lines.append(f"{split} images: {len(ids)} listed, {len(good)} readable; {_size_stats(good)}")
        n_alpha = sum(info[2] in ALPHA_MODES for info in good)
        if n_alpha:
            lines.append(f"  note: {n_alpha} {split} image(s) have transparency; every stage reads them composited "
                         "onto white (transparent pixels would otherwise turn black)")
    if dd is not None:
        counts = dd.train["target"].value_counts().reindex(range(dd.num_classes), fill_value=0)
        lines.append(f"classes: {dd.num_classes}; label fixes applied: {dd.fixes_applied}")
        lines.extend(f"  {t:>3} {name:<55} {counts[t]:>5}" for t, name in enumerate(dd.class_names))
        lines.extend(f"note: {n}" for n in dd.fix_notes)
    return CheckReport(root=root, problems=problems, summary="\n".join(lines))


def _listed_ids(path: Path) -> list[str]:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        return df["ID"].tolist() if "ID" in df.columns else []
    except Exception:  # noqa: BLE001 - already reported by _load
        return []
