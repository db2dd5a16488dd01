"""`dl-cls merge-folds RUN`: merge folds trained by separate processes (FOLDS=0,1 here, FOLDS=2,3,4 there)."""
from __future__ import annotations

import argparse

from dl_cls.core.cli_options import add_work


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="run name under WORK/runs, or a run dir")
    add_work(parser)


def run(args: argparse.Namespace) -> int:
    from dl_cls.artifacts.runs import resolve_run_dir
    from dl_cls.train.kfold import merge_run, print_table

    run_dir = resolve_run_dir(args.run, args.work)
    summary = merge_run(run_dir)
    print_table(summary)
    print(f"wrote {run_dir / 'oof.csv'}, {run_dir / 'test_probs.csv'}, {run_dir / 'summary.json'}")
    return 0
