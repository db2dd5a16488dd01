"""Where does a text run's gap (test-like OOF against test F1) come from? (issue 29)

Takes one finished `dl-cls ocr --classes all 3,4,7,14` pass (its ocr.csv, the work dir's folds) and, for the
full-class member and the family expert, scores the test pages three ways beside the OOF:
- `full`: the model of every train row, as `dl-cls ocr` predicts the test (what the runs ship);
- `fold`: each fold's model (the other folds' rows, the very models that predict the OOF), mean and spread of
  their test F1: the test scored at the OOF's training size;
- `fold avg`: the fold models' probabilities averaged, as a CNN run predicts its test.
OOF against `fold` is the copies against the test pages at the same training size; `fold` against `full` is what
the last fold's rows add (the learning curve). `sd`: the gap's noise from which copies and test pages were drawn
(artifacts.runs.macro_f1_sd on each). The fold models are cross_validate's own
(expert.cross_validate_judging): no page is read, 26 s on make demo's sample.

    python bench/ocr_gap.py --data work/demo/sample --work WORK [--table OCR_CSV]

bench/ocr_gap_seeds.sh runs it on fresh demo-size samples, one per seed.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from dl_cls.artifacts.runs import CONFIG_FILE, F1_DRAWS, macro_f1, macro_f1_sd, prob_columns
from dl_cls.core.config import read_yaml
from dl_cls.data.contract import load_data
from dl_cls.data.folds import load_folds
from dl_cls.ocr import expert as E
from dl_cls.ocr.readability import sure_share
from dl_cls.ocr.rundir import _oof_rows, group_tables
from dl_cls.ocr.table import read_table

FAMILY = [3, 4, 7, 14]


def _scored(probs: np.ndarray, y: np.ndarray, classes: list[int], member: bool) -> tuple[np.ndarray, np.ndarray]:
    """(truth, prediction) of the test pages a run is scored on: every page for the member; the readable test
    pages of the group for an expert (as bench/ocr_copies)."""
    pred = np.asarray(classes)[probs.argmax(1)]
    keep = np.ones(len(y), bool) if member else np.isin(y, classes) & (probs.max(1) > 1.0 / len(classes) + 1e-6)
    return y[keep], pred[keep]


def _test_f1(probs: np.ndarray, y: np.ndarray, classes: list[int], member: bool) -> float:
    return macro_f1(*_scored(probs, y, classes, member))


def gap_rows(table: pd.DataFrame, dd, folds: pd.DataFrame, classes: list[int], y_test: np.ndarray) -> dict:
    member = len(classes) == dd.num_classes
    pages, test = group_tables(table, dd, folds, classes)
    kw = E.load_keyword_file("default", classes, dd.class_names)
    oof_on = "testlike" if "testlike" in pages else "clean"
    oofs, judged = E.cross_validate_judging(pages, test, classes, kw)
    oof = _oof_rows(oofs[oof_on][0], pages[oof_on], classes, every_row=member)
    truth = pages[oof_on].set_index("ID")["target"]
    oof_pair = (truth.loc[oof["ID"]].to_numpy(),
                np.asarray(classes)[oof[prob_columns(classes)].to_numpy().argmax(1)])
    full, readable = E.predict_test(pages, test, classes, kw)[:2]  # the model the run ships
    full_probs = full[prob_columns(classes)].to_numpy()
    fold_probs = [probs for probs, _ in judged]  # the fold models' on every test page (uniform: no text)
    fold_f1 = [_test_f1(p, y_test, classes, member) for p in fold_probs]
    n_test = len(test)
    # the sure shares as dl-cls ocr's readability table counts them (a page without text is not sure)
    sure = {"copies": sure_share(oofs[oof_on][0][prob_columns(classes)].to_numpy(), len(pages[oof_on])),
            "test full": sure_share(full_probs[readable], n_test),
            "test fold": float(np.mean([sure_share(p[r], n_test) for p, r in judged]))}
    test_pair = _scored(full_probs, y_test, classes, member)
    gap_sd = float(np.hypot(macro_f1_sd(*oof_pair), macro_f1_sd(*test_pair)))  # two samples, drawn apart
    return {"oof": macro_f1(*oof_pair), "full": macro_f1(*test_pair), "gap_sd": gap_sd,
            "fold": float(np.mean(fold_f1)), "fold_sd": float(np.std(fold_f1)),
            "fold_avg": _test_f1(np.mean(fold_probs, axis=0), y_test, classes, member), "sure": sure}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--table", type=Path, help="the pass's ocr.csv (default: the one WORK/runs/ocr-all was built "
                                                "from, as its config.yaml names it)")
    args = ap.parse_args(argv)
    built_from = args.work / "runs" / "ocr-all" / CONFIG_FILE
    table = read_table(args.table or Path(read_yaml(built_from)["ocr_dir"]) / "ocr.csv")
    dd = load_data(args.data, label_fixes="none")
    folds = load_folds(args.work, dd)
    labels = pd.read_csv(args.data / "test_labels.csv", dtype={"ID": str}).set_index("ID")["target"]
    y_test = labels.loc[dd.test_ids].to_numpy()
    print(f"{'run':<8} {'OOF':>6} {'test full':>9} {'test fold':>14} {'fold avg':>8} {'gap':>7} {'(sd)':>7} "
          f"{'copies':>7} {'curve':>7}")
    for name, classes in (("member", list(range(dd.num_classes))), ("family", FAMILY)):
        r = gap_rows(table, dd, folds, classes, y_test)
        print(f"{name:<8} {r['oof']:>6.3f} {r['full']:>9.3f} {r['fold']:>7.3f} +-{r['fold_sd']:.3f} "
              f"{r['fold_avg']:>8.3f} {r['oof'] - r['full']:>+7.3f} {r['gap_sd']:>7.3f} "
              f"{r['oof'] - r['fold']:>+7.3f} "
              f"{r['fold'] - r['full']:>+7.3f}   sure: " + ", ".join(f"{k} {v:.0%}" for k, v in r["sure"].items()),
              flush=True)
    print("\ngap: OOF - test (full, as shipped) = copies (OOF - fold models' test: the copies against the test pages "
          "at the same training size) + curve (fold models' test - full model's: the rows the fold models lack); sd: "
          f"the gap's noise (the copies and the test pages drawn apart, {F1_DRAWS} bootstrap draws each); sure: "
          "share of pages with a top probability >= 0.5 (the member: of every page; an expert: of its copies and of "
          "every test page)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
