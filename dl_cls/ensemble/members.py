"""Load trainer runs (and ensembles) from disk and line them up: same IDs, same folds, same test order.

A run dir holds config.yaml, oof.csv (ID,fold,p_<c>...) and test_probs.csv (ID,p_<c>...). Probability columns
are named by the original class index, so a class-subset run (a specialist) has only its classes' columns.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from dl_cls.data.contract import DataDir, load_data
from dl_cls.errors import DataError, DlClsError

ROW_SUM_TOL = 1e-3  # probabilities are written as text; a row may sum to 1 +- rounding


@dataclass
class Run:
    name: str
    path: Path
    config: dict
    classes: list[int]  # original class index of each probability column, in column order
    oof: pd.DataFrame  # ID, fold, p_<c>...
    test: pd.DataFrame  # ID, p_<c>...

    @property
    def is_subset(self) -> bool:
        return subset_classes(self.config) is not None

    @property
    def prob_columns(self) -> list[str]:
        return [f"p_{c}" for c in self.classes]

    def oof_probs(self) -> np.ndarray:
        return self.oof[self.prob_columns].to_numpy(dtype=float)

    def test_probs(self) -> np.ndarray:
        return self.test[self.prob_columns].to_numpy(dtype=float)


def resolve_run_dir(run: str, work, kinds: tuple[str, ...] = ("runs",)) -> Path:
    """RUN is a path to a run dir, or a name under WORK/<kind>/ for each kind tried in order."""
    path = Path(run)
    if (path / "config.yaml").is_file():
        return path
    tried = [path]
    for kind in kinds:
        candidate = Path(work) / kind / run
        if (candidate / "config.yaml").is_file():
            return candidate
        tried.append(candidate)
    raise DlClsError(f"run {run!r} not found: no config.yaml in " + " or ".join(str(t) for t in tried))


def read_config(run_dir: Path) -> dict:
    path = Path(run_dir) / "config.yaml"
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise DlClsError(f"{path}: cannot read config ({exc})") from exc
    if not isinstance(config, dict) or "data_dir" not in config:
        raise DlClsError(f"{path}: not a run config (expected a mapping with data_dir, num_classes, classes)")
    return config


def _read_probs(path: Path, classes: list[int], with_fold: bool) -> pd.DataFrame:
    """Read and validate an oof.csv / test_probs.csv; every problem names the file and the CSV line."""
    if not path.is_file():
        raise DlClsError(f"{path}: file missing (did the run finish?)")
    try:
        df = pd.read_csv(path, dtype={"ID": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DlClsError(f"{path}: not a readable CSV ({exc})") from exc
    expected = ["ID"] + (["fold"] if with_fold else []) + [f"p_{c}" for c in classes]
    if sorted(df.columns) != sorted(expected):
        raise DataError([f"{path}: columns {', '.join(map(str, df.columns))}; expected {', '.join(expected)} "
                         "(from the run's config classes/num_classes)"], f"{path} has the wrong columns")
    df = df[expected]
    problems = []
    dup = df["ID"].duplicated(keep=False)
    if dup.any():
        problems.append(f"{path}: duplicate IDs at lines {', '.join(str(i + 2) for i in np.flatnonzero(dup)[:10])}")
    probs = df[expected[-len(classes):]].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(probs).all(axis=1)
    bad |= np.isfinite(probs).all(axis=1) & (np.abs(np.nan_to_num(probs).sum(axis=1) - 1) > ROW_SUM_TOL)
    bad |= (np.nan_to_num(probs) < 0).any(axis=1)
    for i in np.flatnonzero(bad)[:10]:
        problems.append(f"{path}: line {i + 2} (ID {df['ID'].iloc[i]}): probabilities must be finite, >= 0 and "
                        f"sum to 1 (sum {np.nansum(probs[i]):.4f})")
    if with_fold and not pd.api.types.is_integer_dtype(df["fold"]):
        problems.append(f"{path}: fold column is not all integers")
    if problems:
        raise DataError(problems, f"{path} is not a valid probability table")
    return df


def subset_classes(config: dict) -> list[int] | None:
    """The original classes of a class-subset run, None for a full run. The trainer writes the resolved list
    (the order of its probability columns) as subset_classes next to the classes it was asked for."""
    classes = config.get("subset_classes") or config.get("classes")
    return None if classes is None else [int(c) for c in classes]


def load_run(run_dir, name: str | None = None) -> Run:
    run_dir = Path(run_dir)
    config = read_config(run_dir)
    classes = subset_classes(config)
    if classes is None:
        if "num_classes" not in config:
            raise DlClsError(f"{run_dir / 'config.yaml'}: needs num_classes (or classes for a subset run)")
        classes = list(range(int(config["num_classes"])))
    oof = _read_probs(run_dir / "oof.csv", classes, with_fold=True)
    test = _read_probs(run_dir / "test_probs.csv", classes, with_fold=False)
    return Run(name=name or run_dir.name, path=run_dir, config=config, classes=classes, oof=oof, test=test)


def label_fixes_of(config: dict):
    """The label fixes a run trained with ('default' when the config does not say)."""
    return config.get("label_fixes", "default")


def load_truth(config: dict, data_dir=None) -> DataDir:
    """The data dir a run (or ensemble) was made from, with the label fixes it trained on."""
    return load_data(data_dir or config["data_dir"], label_fixes_of(config))


def _examples(ids, n: int = 5) -> str:
    ids = sorted(ids)
    return ", ".join(map(str, ids[:n])) + (f" and {len(ids) - n} more" if len(ids) > n else "")


def align_runs(members: list[Run], specialists: list[Run], dd: DataDir) -> tuple[list[Run], list[Run]]:
    """Check that runs share IDs and folds; return them reindexed to train.csv / sample_submission order.

    Full members must cover exactly the train IDs; a specialist covers a subset. Every run must give each
    shared ID the same fold as the first member (otherwise its OOF rows were predicted by different splits).
    """
    train_ids = set(dd.train["ID"])
    problems = []
    for run in members:
        if run.is_subset:
            problems.append(f"run {run.name} is a class-subset run (classes {run.classes}); pass it with --specialist")
        elif run.classes != list(range(dd.num_classes)):
            problems.append(f"run {run.name} has {len(run.classes)} classes; the data dir has {dd.num_classes}")
        ids = set(run.oof["ID"])
        if ids - train_ids:
            problems.append(f"run {run.name}: oof.csv has {len(ids - train_ids)} IDs not in {dd.root}/train.csv "
                            f"({_examples(ids - train_ids)})")
        if not run.is_subset and train_ids - ids:
            problems.append(f"run {run.name}: oof.csv lacks {len(train_ids - ids)} train IDs "
                            f"({_examples(train_ids - ids)})")
    for run in specialists:
        if not run.is_subset or len(run.classes) < 2:
            problems.append(f"specialist {run.name} is not a class-subset run of 2+ classes "
                            f"(config classes: {run.config.get('classes')}); a full-class run is a member")
        ids = set(run.oof["ID"])
        if ids - train_ids:
            problems.append(f"specialist {run.name}: oof.csv has {len(ids - train_ids)} IDs not in train.csv "
                            f"({_examples(ids - train_ids)})")
    for run in members + specialists:
        test_ids = set(run.test["ID"])
        if test_ids != set(dd.test_ids):
            problems.append(f"run {run.name}: test_probs.csv IDs differ from {dd.root}/sample_submission.csv "
                            f"(missing {_examples(set(dd.test_ids) - test_ids)}; extra {_examples(test_ids - set(dd.test_ids))})")
    if problems:
        raise DataError(problems, "runs do not line up")

    ref = members[0]
    ref_fold = ref.oof.set_index("ID")["fold"]
    for run in members[1:] + specialists:
        fold = run.oof.set_index("ID")["fold"]
        diff = fold[fold != ref_fold.reindex(fold.index)]
        if len(diff):
            eg = diff.index[0]
            problems.append(f"runs {ref.name} and {run.name} disagree on the fold of {len(diff)} IDs "
                            f"(e.g. {eg}: fold {ref_fold[eg]} vs {diff[eg]}); train them on the same folds.csv")
    if problems:
        raise DataError(problems, "runs were not trained on the same folds")

    order = dd.train["ID"]
    for run in members + specialists:
        oof = run.oof.set_index("ID")
        keep = order[order.isin(oof.index)]
        run.oof = oof.loc[keep].reset_index()
        run.test = run.test.set_index("ID").loc[dd.test_ids].reset_index()
    return members, specialists
