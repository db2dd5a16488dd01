"""Line up loaded runs for an ensemble: same IDs, same folds, same test order (loading is artifacts.runs.load_run)."""
from __future__ import annotations

from dl_cls.artifacts.runs import LoadedRun, coverage_problems
from dl_cls.core.errors import DataError
from dl_cls.data.contract import DataDir


def align_runs(members: list[LoadedRun], specialists: list[LoadedRun],
               dd: DataDir) -> tuple[list[LoadedRun], list[LoadedRun]]:
    """Check that runs share IDs and folds; return them reindexed to train.csv / sample_submission order.

    Full members must cover exactly the train IDs; a specialist covers a subset. Every run must give each
    shared ID the same fold as the first member (otherwise its OOF rows were predicted by different splits).
    """
    problems = _coverage_problems(members, specialists, dd)
    if problems:
        raise DataError(problems, "runs do not line up")
    problems = _fold_problems(members[0], members[1:] + specialists)
    if problems:
        raise DataError(problems, "runs were not trained on the same folds")
    order = dd.train["ID"]
    for run in members + specialists:
        oof = run.oof.set_index("ID")
        keep = order[order.isin(oof.index)]
        run.oof = oof.loc[keep].reset_index()
        run.test = run.test.set_index("ID").loc[dd.test_ids].reset_index()
    return members, specialists


def _coverage_problems(members: list[LoadedRun], specialists: list[LoadedRun], dd: DataDir) -> list[str]:
    """Members cover exactly the train IDs with every class; specialists a subset; all the same test IDs."""
    problems = []
    for run in members:
        if run.is_subset:
            problems.append(f"run {run.name} is a class-subset run (classes {run.classes}); pass it with --specialist")
        elif run.classes != list(range(dd.num_classes)):
            problems.append(f"run {run.name} has {len(run.classes)} classes; the data dir has {dd.num_classes}")
        problems += coverage_problems(run, dd)
    for run in specialists:
        if not run.is_subset or len(run.classes) < 2:
            problems.append(f"specialist {run.name} is not a class-subset run of 2+ classes "
                            f"(config classes: {run.config.classes}); a full-class run is a member")
        problems += coverage_problems(run, dd, "specialist")
    return problems


def _fold_problems(ref: LoadedRun, others: list[LoadedRun]) -> list[str]:
    """Every run gives each shared ID the fold the first member gave it."""
    problems = []
    ref_fold = ref.oof.set_index("ID")["fold"]
    for run in others:
        fold = run.oof.set_index("ID")["fold"]
        diff = fold[fold != ref_fold.reindex(fold.index)]
        if len(diff):
            eg = diff.index[0]
            problems.append(f"runs {ref.name} and {run.name} disagree on the fold of {len(diff)} IDs "
                            f"(e.g. {eg}: fold {ref_fold[eg]} vs {diff[eg]}); train them on the same folds.csv")
    return problems
