"""`dl-cls folds`: write WORK/folds.csv once, shared by every model."""
from __future__ import annotations

from pathlib import Path

from dl_cls.core.cli_options import add_data, add_label_fixes, add_work
from dl_cls.data.contract import load_data
from dl_cls.data.folds import FOLDS_FILE, ensure_folds


def add_arguments(parser) -> None:
    add_data(parser)
    add_work(parser)
    parser.add_argument("--n-folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--force", action="store_true", help="regenerate over an existing folds.csv")
    add_label_fixes(parser)


def run(args) -> int:
    dd = load_data(args.data, label_fixes=args.label_fixes)
    folds = ensure_folds(args.work, dd, n_folds=args.n_folds, seed=args.seed, force=args.force)
    table = folds.merge(dd.train, on="ID").groupby("fold")["target"].agg(["size", "nunique"])
    print(f"{Path(args.work) / FOLDS_FILE}: {len(folds)} IDs, label fixes applied: {dd.fixes_applied}")
    for k, row in table.iterrows():
        print(f"  fold {k}: {row['size']} images, {row['nunique']} classes")
    return 0
