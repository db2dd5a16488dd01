"""`dl-cls predict RUN --data DIR`: test_probs.csv for an image folder with every fold model of RUN and its TTA."""
from __future__ import annotations

import argparse
from pathlib import Path

from dl_cls.core.cli_options import add_work


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="run name under WORK/runs, or a run dir")
    parser.add_argument("--data", required=True, help="a competition data dir (its test/ in sample_submission "
                        "order) or any folder of images (sorted by name)")
    add_work(parser)
    parser.add_argument("--out", default=None, help="output CSV (default: RUN/predictions/<data name>/test_probs.csv;"
                        " never overwritten)")
    parser.add_argument("--cpu", action="store_true", help="predict on the CPU even when a GPU is present")


def run(args: argparse.Namespace) -> int:
    from dl_cls.artifacts.runs import resolve_run_dir
    from dl_cls.train.predict import predict_folder

    run_dir = resolve_run_dir(args.run, args.work)
    out = Path(args.out) if args.out else run_dir / "predictions" / Path(args.data).resolve().name / "test_probs.csv"
    df = predict_folder(run_dir, Path(args.data), out, force_cpu=args.cpu)
    print(f"wrote {out} ({len(df)} images x {df.shape[1] - 1} classes)")
    return 0
