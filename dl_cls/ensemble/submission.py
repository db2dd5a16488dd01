"""submission.csv: written from test probabilities, and checked against sample_submission.csv on every write."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dl_cls.core.errors import DataError, DlClsError
from dl_cls.core.io import atomic_write_csv, read_csv
from dl_cls.data.contract import DataDir

MAX_LISTED = 10  # rows named per kind of fault; the count is always given


def _lines(positions) -> str:
    """CSV line numbers (line 1 is the header) of DataFrame rows."""
    positions = list(positions)
    shown = ", ".join(str(int(p) + 2) for p in positions[:MAX_LISTED])
    return shown + (f" and {len(positions) - MAX_LISTED} more" if len(positions) > MAX_LISTED else "")


def _ids(ids) -> str:
    ids = list(ids)
    return ", ".join(ids[:MAX_LISTED]) + (f" and {len(ids) - MAX_LISTED} more" if len(ids) > MAX_LISTED else "")


def check_submission(sub, dd: DataDir) -> list[str]:
    """Every problem of a submission (a path or a DataFrame) against dd's sample_submission; [] if it is good."""
    where = str(sub) if isinstance(sub, (str, Path)) else "submission"
    if isinstance(sub, (str, Path)):
        try:
            sub = read_csv(sub, dtype=str, keep_default_na=False)
        except DlClsError as exc:  # missing, not UTF-8, not a CSV
            return [str(exc)]
    else:
        sub = sub.astype(str)
    if list(sub.columns) != ["ID", "target"]:
        return [f"{where}: columns are {', '.join(map(str, sub.columns))}; expected exactly ID,target"]

    problems = []
    expected = dd.test_ids
    dup = sub["ID"].duplicated(keep=False)
    if dup.any():
        problems.append(f"{where}: {sub['ID'][dup].nunique()} duplicated ID(s) ({_ids(sub['ID'][dup].unique())}) "
                        f"at lines {_lines(np.flatnonzero(dup))}")
    missing = [i for i in expected if i not in set(sub["ID"])]
    if missing:
        problems.append(f"{where}: {len(missing)} ID(s) of sample_submission.csv missing: {_ids(missing)}")
    extra = ~sub["ID"].isin(set(expected))
    if extra.any():
        problems.append(f"{where}: {extra.sum()} ID(s) not in sample_submission.csv ({_ids(sub['ID'][extra])}) "
                        f"at lines {_lines(np.flatnonzero(extra))}")
    if not problems and sub["ID"].tolist() != expected:
        wrong = np.flatnonzero(sub["ID"].to_numpy() != np.asarray(expected))
        problems.append(f"{where}: IDs are not in sample_submission.csv order; first out of place at line "
                        f"{wrong[0] + 2} ({sub['ID'].iloc[wrong[0]]}, expected {expected[wrong[0]]}); "
                        f"{len(wrong)} line(s) differ")

    # strict: the text must be an integer ("3", not "3.0"), as a grader parsing ints would need
    not_int = ~sub["target"].str.strip().str.fullmatch(r"[+-]?\d+")
    values = pd.to_numeric(sub["target"].where(~not_int), errors="coerce")
    if not_int.any():
        problems.append(f"{where}: target is not an integer at lines {_lines(np.flatnonzero(not_int))} "
                        f"(e.g. {sub['target'][not_int].iloc[0]!r})")
    valid = set(dd.meta["target"].astype(int))
    out_of_range = ~not_int & ~values.isin(valid)
    if out_of_range.any():
        problems.append(f"{where}: target outside the classes of meta.csv (0..{dd.num_classes - 1}) at lines "
                        f"{_lines(np.flatnonzero(out_of_range))} (e.g. {sub['target'][out_of_range].iloc[0]})")
    return problems


def submission_from_probs(test_probs: np.ndarray, dd: DataDir) -> pd.DataFrame:
    """Arg-max of (N_test, K) probabilities in sample_submission order."""
    return pd.DataFrame({"ID": dd.test_ids, "target": np.argmax(test_probs, axis=1).astype(int)})


def write_submission(sub: pd.DataFrame, path, dd: DataDir) -> None:
    """Check, write atomically, and check the written file again (what the competition will read)."""
    problems = check_submission(sub, dd)
    if problems:
        raise DataError(problems, f"refusing to write {path}: the submission is invalid")
    atomic_write_csv(sub, path)
    problems = check_submission(path, dd)
    if problems:
        Path(path).unlink()
        raise DataError(problems, f"{path} failed its check after writing (removed)")
