"""`dl-cls sweep-fraction`: the same model on 0.1..1.0 of the augmented copies -> table + plot of test-like F1 and
train time against the fraction (is x10 worth its time over x5?)."""
from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from dl_cls.train.cli import add_arguments as add_train_arguments

DEFAULT_FRACTIONS = "0.1,0.25,0.5,0.75,1.0"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_train_arguments(parser)
    parser.add_argument("--fractions", default=DEFAULT_FRACTIONS, help=f"default {DEFAULT_FRACTIONS}")


def run(args: argparse.Namespace) -> int:
    import json

    import pandas as pd
    from matplotlib.figure import Figure

    from dl_cls.core.errors import DlClsError
    from dl_cls.core.io import atomic_write_csv, create_run_dir
    from dl_cls.imaging.viz import save_figure
    from dl_cls.train.cli import spec_from_args
    from dl_cls.train.kfold import train

    if not args.aug:
        raise DlClsError("sweep-fraction needs --aug DIR: it samples fractions of an augmented set's copies")
    if args.resume or args.fraction is not None:
        raise DlClsError("sweep-fraction sets the fraction itself and starts new runs; drop --resume/--fraction")
    try:
        fractions = [float(f) for f in args.fractions.split(",")]
    except ValueError:
        raise DlClsError(f"--fractions {args.fractions!r}: expected numbers like {DEFAULT_FRACTIONS}") from None
    base = args.name or f"{Path(args.model or 'model').stem}-sweep-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    out_dir = create_run_dir(Path(args.work) / "sweeps" / base)
    rows = []
    for f in fractions:
        args.fraction, args.name = f, f"{base}-frac{f:g}"
        run_dir = train(spec_from_args(args), force_cpu=args.cpu)
        s = json.loads((run_dir / "summary.json").read_text())
        rows.append({"fraction": f, "run": run_dir.name, "train_images_per_fold": round(
            sum(i["train_images"] for i in s["per_fold"]) / len(s["per_fold"])),
            "testlike_f1": s["mean"]["testlike_f1"], "clean_f1": s["mean"]["clean_f1"],
            "oof_f1": s["oof_f1"], "train_time_s": s["total_train_time_s"]})
        table = pd.DataFrame(rows)
        atomic_write_csv(table, out_dir / "fraction.csv")  # rewritten after each run: a crash keeps the finished rows
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))

    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot(table["fraction"], table["testlike_f1"], "o-", label="test-like F1 (mean of folds)")
    ax.plot(table["fraction"], table["oof_f1"], "s--", label=f"OOF F1 ({s['oof_on']}, TTA)")
    ax.set_xlabel("fraction of augmented copies")
    ax.set_ylabel("macro F1")
    ax2 = ax.twinx()
    ax2.plot(table["fraction"], table["train_time_s"], "^:", color="grey", label="train time")
    ax2.set_ylabel("train time (s, all folds)")
    lines = ax.get_lines() + ax2.get_lines()  # one legend for both axes
    ax.legend(lines, [line.get_label() for line in lines], loc="lower right")
    ax.set_title(f"{base}: F1 and time vs data size")
    save_figure(fig, out_dir / "fraction.png")
    print(f"wrote {out_dir / 'fraction.csv'} and {out_dir / 'fraction.png'}")
    return 0
