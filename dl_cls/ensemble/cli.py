"""dl-cls ensemble RUN [RUN ...] [--method soft|hard|weighted|stack] [--specialist RUN ...] [--name NAME]

Writes WORK/ensembles/<name>/ (never overwritten): oof.csv (fold-held-out), test_probs.csv, submission.csv
(checked), members.csv (the member table) and config.yaml (so `dl-cls report` reads it like a run dir).
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import pandas as pd

from dl_cls.artifacts.runs import (EnsembleOptions, RunConfig, load_run, load_truth, resolve_run_dir, run_path,
                                   write_run_config)
from dl_cls.core.cli_options import add_work
from dl_cls.core.errors import DlClsError
from dl_cls.core.io import atomic_write_csv, data_key, new_output_dir
from dl_cls.core.lock import Lock
from dl_cls.ensemble.core import METHODS, build_ensemble
from dl_cls.ensemble.discover import agreed_fixes
from dl_cls.ensemble.members import align_runs
from dl_cls.ensemble.submission import submission_from_probs, write_submission
from dl_cls.ensemble.text_runs import EQUAL_WEIGHT_METHODS, oof_weight_note, shrink_text_runs

FLOAT_FORMAT = "%.6f"
# config.yaml's key order, as the ensembler has always written it (EnsembleOptions' keys among the contract keys)
CONFIG_KEYS = ("data_dir", "label_fixes", "kind", "method", "method_forced", "members", "specialists",
               "mass_threshold", "num_classes", "class_names", "classes", "seed")


def add_arguments(parser) -> None:
    parser.add_argument("runs", nargs="*", metavar="RUN",
                        help="member runs: names under WORK/runs or paths (default: every finished full-class run "
                             "of the same data and folds as members, every finished class-subset run as a "
                             "specialist; the table printed says what was taken and skipped, and why)")
    parser.add_argument("--method", choices=METHODS, default=None,
                        help="force one method (default: try all, keep the best fold-held-out OOF macro F1)")
    parser.add_argument("--specialist", nargs="+", action="extend", default=[], metavar="RUN",
                        help="class-subset runs applied in this order after the method (put it after the RUNs)")
    parser.add_argument("--name", help="output name under WORK/ensembles (default: ens-<date>-<time>)")
    add_work(parser)
    parser.add_argument("--data", help="data dir (default: the members' config data_dir, which must agree)")
    parser.add_argument("--mass-threshold", type=float, default=None,
                        help="a specialist also refines rows whose ensemble mass on its group is >= this "
                             "(default: only rows whose top class is in the group)")
    parser.add_argument("--test-labels", help="ID,target CSV of the test set (the sample's test_labels.csv): "
                                              "adds test_macro_f1 to the table; never used for a choice")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weight search (default: 0)")
    parser.add_argument("--text-shrink", choices=("auto", "off"), default="auto",
                        help="auto (default): a text run (dl-cls ocr) whose test pages read worse than its test-like "
                             "copies has its test probabilities pulled towards uniform by the measured ratio "
                             "(its summary.json test_shrink); off: used as they are")


def _agreed(runs, key, value_of, given=None):
    """The one value every run's config agrees on (or the given override); error naming the runs otherwise."""
    if given is not None:
        return given
    values = {r.name: value_of(r.config) for r in runs}
    if len(set(map(str, values.values()))) > 1:
        raise DlClsError(f"runs disagree on {key}: " + ", ".join(f"{n}: {v}" for n, v in values.items())
                         + (" (pass --data to choose)" if key == "data_dir" else ""))
    return next(iter(values.values()))


def _probs_frame(ids, probs, folds=None) -> pd.DataFrame:
    df = pd.DataFrame(probs, columns=[f"p_{c}" for c in range(probs.shape[1])])
    if folds is not None:
        df.insert(0, "fold", folds)
    df.insert(0, "ID", list(ids))
    return df


def format_table(table: pd.DataFrame) -> str:
    shown = table.dropna(axis=1, how="all").copy()
    shown["chosen"] = shown["chosen"].map({True: "*", False: ""})
    shown["detail"] = shown["detail"].str.slice(0, 70)  # the full text is in members.csv
    return shown.to_string(index=False, float_format=lambda v: f"{v:.4f}", na_rep="")


def _chosen_runs(args, work: Path):
    """RUNS (and --specialist) as given on the command line."""
    paths = [resolve_run_dir(r, work) for r in args.runs]
    spec_paths = [resolve_run_dir(r, work) for r in args.specialist]
    all_paths = [p.resolve() for p in paths + spec_paths]
    if len(set(all_paths)) != len(all_paths):
        raise DlClsError("the same run is given twice: " + " ".join(map(str, paths + spec_paths)))
    return [load_run(p) for p in paths], [load_run(p) for p in spec_paths]


def _discovered_runs(args, work: Path):
    """No RUNS: every finished run of the same data and folds (--specialist, if given, still chooses those)."""
    from dl_cls.ensemble.discover import discover, nothing_message

    found = discover(work, args.data, specialists=not args.specialist)
    if not found.table.empty:
        print("runs found in " + str(work / "runs") + ":\n" + found.table.to_string(index=False) + "\n")
    if not found.members:
        raise DlClsError(nothing_message(work, found))
    taken = {r.path.resolve() for r in found.members}
    chosen = [resolve_run_dir(r, work) for r in args.specialist]
    if taken & {p.resolve() for p in chosen}:
        raise DlClsError("a --specialist run is also a member; give class-subset runs only")
    return found.members, [load_run(p) for p in chosen] or found.specialists


def options(args, method: str, members, specialists) -> EnsembleOptions:
    """What decided this ensemble: the command's options and the method it chose."""
    return EnsembleOptions(method=method, method_forced=args.method is not None,
                           members=[str(r.path.resolve()) for r in members],
                           specialists=[str(r.path.resolve()) for r in specialists],
                           mass_threshold=args.mass_threshold, seed=args.seed)


def oof_pages_note(members, specialists) -> str | None:
    """A line when a specialist's OOF was predicted on cleaner pages than the members' (its held-out gain, and so
    its blend weight, are then optimistic), else None."""
    pages = {r.config.oof_pages for r in members}
    cleaner = [r.name for r in specialists if r.config.oof_pages == "clean" and "testlike" in pages]
    if not cleaner:
        return None
    return (f"note: the OOF of {', '.join(cleaner)} predicts clean train pages, the members' test-like ones: "
            "its held-out gain (and blend weight) is optimistic; trust the test score more than that OOF")


def text_member_note(runs) -> str | None:
    """A line when tesseract is installed but no text run (dl-cls ocr) is among the discovered runs: reading the
    pages was the biggest gain measured on the sample."""
    if any(r.config.kind == "ocr" for r in runs) or shutil.which("tesseract") is None:
        return None
    return ("note: tesseract is installed but no text run (dl-cls ocr) exists for this data dir: `make ocr` reads "
            "every page once and writes the full-class text member and the family expert (docs/benchmarks.md)")


def _text_rules(args, members, specialists) -> tuple[str, ...]:
    """Text runs whose test pages read worse than their copies: their test probabilities shrunk, and the methods
    the OOF may choose among (equal weights only when a member reads far worse); with --text-shrink off, neither."""
    if args.text_shrink != "auto":
        return METHODS
    for line in shrink_text_runs(members + specialists):
        print(line)
    note = None if args.method else oof_weight_note(members)
    if note:
        print(note)
    return EQUAL_WEIGHT_METHODS if note else METHODS


def run(args) -> int:
    work = Path(args.work)
    name = args.name or time.strftime("ens-%Y%m%d-%H%M%S")
    out = run_path(work, name, "ensembles")
    if out.exists():  # fail before the work, create_run_dir below re-checks
        raise DlClsError(f"{out} already exists; outputs are never overwritten. Pick another --name.")
    if args.mass_threshold is not None and not 0 <= args.mass_threshold <= 1:  # a probability mass
        raise DlClsError(f"--mass-threshold must be in [0, 1], got {args.mass_threshold}")
    members, specialists = _chosen_runs(args, work) if args.runs else _discovered_runs(args, work)
    runs = members + specialists
    for note in [] if args.runs else filter(None, [text_member_note(runs)]):
        print(note)
    data_dir = _agreed(runs, "data_dir", lambda c: data_key(c.data_dir), args.data and data_key(args.data))
    fixes = agreed_fixes(runs, data_dir)
    config = RunConfig(data_dir=str(data_dir), label_fixes=fixes, kind="ensemble", key_order=CONFIG_KEYS)
    dd = load_truth(config)
    members, specialists = align_runs(members, specialists, dd)
    candidates = _text_rules(args, members, specialists)
    truth = dd.train.set_index("ID")["target"]
    ids = members[0].oof["ID"]
    y, folds = truth.loc[ids].to_numpy(dtype=int), members[0].oof["fold"].to_numpy()
    y_test = None
    if args.test_labels:
        from dl_cls.data.labels import read_labels

        y_test = read_labels(args.test_labels, dd.test_ids, "test set of sample_submission.csv")

    result = build_ensemble(members, specialists, y, folds, method=args.method, mass_threshold=args.mass_threshold,
                            seed=args.seed, y_test=y_test, candidates=candidates)
    result.table.loc[result.table["kind"] == "ensemble", "name"] = name
    config.ensemble = options(args, result.method, members, specialists)
    config.num_classes, config.class_names = dd.num_classes, dd.class_names

    with new_output_dir(out), Lock(out, f"ensemble {out}"):  # mkdir is the claim; no half-written dir
        atomic_write_csv(_probs_frame(ids, result.oof, folds), out / "oof.csv", FLOAT_FORMAT)
        atomic_write_csv(_probs_frame(dd.test_ids, result.test), out / "test_probs.csv", FLOAT_FORMAT)
        write_submission(submission_from_probs(result.test, dd), out / "submission.csv", dd)
        atomic_write_csv(result.table, out / "members.csv", float_format="%.5f")
        write_run_config(out, config)

    print(format_table(result.table))
    how = "forced by --method" if args.method else "best fold-held-out OOF macro F1"
    print(f"\nmethod: {result.method} ({how}); OOF macro F1 of the ensemble: "
          f"{result.table['oof_macro_f1'].iloc[-1]:.4f}")
    for note in filter(None, [oof_pages_note(members, specialists)]):
        print(note)
    print(f"wrote {out}/: oof.csv test_probs.csv submission.csv (checked) members.csv config.yaml")
    return 0
