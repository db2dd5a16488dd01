"""`dl-cls check-data DIR`: validate a data dir and print a summary and every problem found."""
from __future__ import annotations

import sys

from dl_cls.core.cli_options import add_label_fixes
from dl_cls.data.contract import check_data


def add_arguments(parser) -> None:
    parser.add_argument("data", nargs="?", default="data", help="data dir (default: data)")
    add_label_fixes(parser)


def run(args) -> int:
    report = check_data(args.data, label_fixes=args.label_fixes)
    print(report.summary)
    if report.problems:
        print(f"\n{len(report.problems)} problem(s) found:", file=sys.stderr)
        for p in report.problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    print("\nOK: no problems found")
    return 0
