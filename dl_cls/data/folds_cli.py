"""`dl-cls folds`: write WORK/folds.csv once, shared by every model."""
from __future__ import annotations

from pathlib import Path

from dl_cls.data.contract import load_data
from dl_cls.data.folds import FOLDS_FILE, ensure_folds


def add_arguments(parser) -> None:
    parser.add_argument("--data", default="data", help="data dir (default: data)")
    parser.add_argument("--work", default="work", help="work dir (default: work)")
    parser.add_argument("--n-folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--force", action="store_true", help="regenerate over an existing folds.csv")
    parser.add_argument("--label-fixes", default="default", help="label fixes CSV, 'default' or 'none'")


def run(args) -> int:
    dd = load_data(args.data, label_fixes=args.label_fixes)
    folds = ensure_folds(args.work, dd, n_folds=args.n_folds, seed=args.seed, force=args.force)
    table = folds.merge(dd.train, on="ID").groupby("fold")["target"].agg(["size", "nunique"])
    print(f"{Path(args.work) / FOLDS_FILE}: {len(folds)} IDs, label fixes applied: {dd.fixes_applied}")
    for k, row in table.iterrows():
        print(f"  fold {k}: {row['size']} images, {row['nunique']} classes")
    return 0
