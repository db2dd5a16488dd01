"""`dl-cls runs`: one table of every run and ensemble in WORK, best score first; --csv for spreadsheets,
--plot for a bar chart, --path for the dir of a run (or of the latest ensemble: `make notebook` uses it)."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import pandas as pd

from dl_cls.artifacts.runs import resolve_run_dir
from dl_cls.artifacts.runstate import RunInfo, list_runs
from dl_cls.core.cli_options import add_work
from dl_cls.core.errors import DlClsError
from dl_cls.core.io import atomic_write_csv

COLUMNS = ["name", "kind", "model", "img_size", "aug_set", "aug_scale", "pseudo", "folds", "oof_f1", "clean_f1",
           "testlike_f1", "wall", "date", "state", "note"]
SCORES = ["oof_f1", "clean_f1", "testlike_f1"]


def add_arguments(parser) -> None:
    add_work(parser)
    parser.add_argument("--csv", nargs="?", const="-", default=None, metavar="FILE",
                        help="write the table as CSV to FILE (to stdout without FILE)")
    parser.add_argument("--plot", nargs="?", const="", default=None, metavar="PNG",
                        help="bar chart of the scores (default file WORK/runs.png)")
    parser.add_argument("--path", nargs="?", const="", default=None, metavar="RUN",
                        help="print the absolute dir of RUN (a name under WORK/runs or WORK/ensembles, or a path); "
                             "without RUN the latest finished ensemble's")


def _wall(seconds) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return ""
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.2f} h"


def _row(i: RunInfo) -> dict:
    folds = f"{i.folds_done}/{i.folds_total}" if i.kind != "ensemble" else ""
    return {"name": i.name, "kind": i.kind, "model": i.model, "img_size": i.img_size, "aug_set": i.aug_set,
            "aug_scale": i.aug_scale, "pseudo": i.pseudo, "folds": folds, "oof_f1": i.oof_f1, "clean_f1": i.clean_f1,
            "testlike_f1": i.testlike_f1, "wall": _wall(i.wall_s), "date": i.date, "state": i.state,
            "note": i.reason}


def ledger(work) -> pd.DataFrame:
    """Every run and ensemble as a row, the best OOF macro F1 first; runs without a score (partial, failed,
    running) last, so they stay visible."""
    table = pd.DataFrame([_row(i) for i in list_runs(work)], columns=COLUMNS)
    table = table.astype({"img_size": "Int64", "aug_scale": "Int64"})
    for col in SCORES:
        table[col] = pd.to_numeric(table[col], errors="coerce")
    return table.sort_values(["oof_f1", "date"], ascending=[False, False], na_position="last", kind="stable",
                             ignore_index=True)


NOTE_WIDTH = 60  # the table's note column; longer notes follow the table in full


def format_ledger(table: pd.DataFrame) -> str:
    shown = table.astype(object).where(table.notna(), "")  # blanks, not None / <NA> / NaN
    for col in SCORES:
        shown[col] = [f"{v:.4f}" if v != "" else "" for v in shown[col]]
    long = [(n, note) for n, note in zip(shown["name"], shown["note"]) if len(note) > NOTE_WIDTH]
    shown["note"] = [note if len(note) <= NOTE_WIDTH else note[: NOTE_WIDTH - 1] + "…" for note in shown["note"]]
    # a note may hold a command to copy (make train RESUME=x FOLDS=1,2): a cut one is printed whole below
    return shown.to_string(index=False) + "".join(f"\n{name}: {note}" for name, note in long)


def latest_ensemble(work) -> Path:
    done = [i for i in list_runs(work) if i.kind == "ensemble" and i.state == "finished"]
    if not done:
        raise DlClsError(f"no finished ensemble in {Path(work) / 'ensembles'}: run `make ensemble` first, or "
                         "give RUN=name")
    return max(done, key=lambda i: (i.date or "", i.name)).path


def run(args) -> int:
    if args.csv not in (None, "-") and (Path(args.csv).exists() or Path(args.csv).is_symlink()):
        raise DlClsError(f"--csv {args.csv} already exists; it is never overwritten (pass another FILE)")
    if args.path is not None:
        path = resolve_run_dir(args.path, args.work, ("runs", "ensembles")) if args.path else \
            latest_ensemble(args.work)
        print(Path(path).resolve())
        return 0
    table = ledger(args.work)
    if args.csv == "-":
        table.to_csv(sys.stdout, index=False)
    elif args.csv:
        atomic_write_csv(table, args.csv)
        print(f"wrote {args.csv} ({len(table)} rows)")
    if args.plot is not None:
        from dl_cls.ledger.plot import plot_scores

        out = Path(args.plot) if args.plot else Path(args.work) / "runs.png"
        plot_scores(table, out)
        print(f"wrote {out}")
    if args.csv != "-":
        if table.empty:
            print(f"no runs or ensembles in {args.work} yet: make train MODEL=... then make ensemble")
        else:
            print(format_ledger(table))
    return 0
