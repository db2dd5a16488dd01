"""dl-cls check-submission FILE [--data DIR]: IDs equal to sample_submission's, in order, no duplicates,
targets integers of meta.csv's classes. Exit 0 when good, 2 with every fault listed otherwise."""
from __future__ import annotations

from dl_cls.core.errors import DataError
from dl_cls.data.contract import load_data
from dl_cls.ensemble.submission import check_submission


def add_arguments(parser) -> None:
    parser.add_argument("file", help="submission.csv to check (ID,target)")
    parser.add_argument("--data", default="data", help="data dir with sample_submission.csv and meta.csv (default: data)")


def run(args) -> int:
    dd = load_data(args.data, label_fixes=None)  # labels are not needed, only the test IDs and classes
    problems = check_submission(args.file, dd)
    if problems:
        raise DataError(problems, f"{args.file} is not a valid submission")
    print(f"{args.file}: OK ({len(dd.test_ids)} rows, IDs in sample_submission order, targets in 0..{dd.num_classes - 1})")
    return 0
