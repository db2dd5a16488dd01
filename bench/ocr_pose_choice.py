"""Which of a doubted page's readings should the text model use? Measured on identical readings, without OCR.

A pass of `dl-cls ocr --pose-sure 0.9` keeps, for every page the pose model doubted, its other poses' readings
beside the pick's (the table's `alts`). This bench takes that one table and, for each way of choosing among a
doubted page's readings, cross-validates the text model on WORK/folds.csv (predicting the test-like copies, as the
run's oof.csv) and fits it on every train row to predict the test pages, then scores both against the labels (the
sample's test_labels.csv). Every row sees the same readings, so the differences are the choice alone, not the
copies' random draws between passes (docs/benchmarks.md: +-0.06 for the family expert). It also prints, on the
copies the pose model doubted (their pose is known), how often the pick and the other poses were right.

    python bench/ocr_pose_choice.py --table WORK/ocr/tesseract-kor-<hash>/ocr.csv --data DATA --work WORK
        [--classes 3,4,7,14]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from dl_cls.artifacts.runs import macro_f1
from dl_cls.ocr import expert as E
from dl_cls.ocr.table import ALTS, read_table

CHOICES = ("pick", "text", "letters", "text, alts >= 5 letters")


def _with_alt(rows: pd.DataFrame, i: int, best: dict) -> None:
    rows.loc[i, list(E.TEXT_COLUMNS)] = [best[c] for c in E.TEXT_COLUMNS]


def choose(rows: pd.DataFrame, how: str, expert: E.OcrExpert) -> pd.DataFrame:
    """`rows` with each doubted page's reading chosen `how`: the pose model's pick, the text model's surest reading
    (the default of --pose-sure > 0), the most confident letters (~ the reader before version 5), or the surest
    among the pick and the other poses' readings of at least 5 confident letters."""
    if how == "pick":
        return rows.assign(**{ALTS: ""})
    if how == "text":
        return E.surest_readings(expert, rows).assign(**{ALTS: ""})
    rows = rows.reset_index(drop=True).copy()
    for i, alts in enumerate(rows[ALTS]):
        if not alts:
            continue
        own = rows.loc[i, list(E.TEXT_COLUMNS)].to_dict()
        options = [own, *json.loads(alts)]
        if how == "letters":
            _with_alt(rows, i, max(options, key=lambda o: o["n_chars"]))
            continue
        options = [o for o in options if o is own or o["n_chars"] >= 5]
        options = [o for o, ok in zip(options, E.has_text(pd.DataFrame(options))) if ok] or [own]
        probs, _ = expert.predict_proba([o["title"] for o in options], [o["text"] for o in options])
        _with_alt(rows, i, options[int(np.argmax(probs.max(axis=1)))])
    return rows.assign(**{ALTS: ""})


def _predict(expert, rows: pd.DataFrame, classes, expert_rows_only: bool) -> pd.DataFrame:
    """ID and predicted class of every row (uniform -> the first class where nothing was read, as a member's
    oof.csv), or of the readable rows only (an expert's)."""
    probs = np.full((len(rows), len(classes)), 1.0 / len(classes))
    readable = E.has_text(rows)
    if readable.any():
        probs[readable] = expert.predict_proba(list(rows["title"][readable]), list(rows["text"][readable]))[0]
    keep = readable if expert_rows_only else np.ones(len(rows), bool)
    return pd.DataFrame({"ID": rows["ID"].to_numpy()[keep], "pred": np.asarray(classes)[probs.argmax(1)][keep]})


def score(pages: dict, test: pd.DataFrame, how: str, classes, keywords, is_expert: bool) -> tuple[float, float]:
    preds = []
    for k in sorted(pages["testlike"]["fold"].unique()):
        fit = E._readable(pd.concat([p[p["fold"] != k] for p in pages.values()]))
        expert = E.OcrExpert(classes, keywords).fit(fit["title"], fit["text"], fit["target"])
        held = choose(pages["testlike"][pages["testlike"]["fold"] == k], how, expert)
        preds.append(_predict(expert, held, classes, is_expert))
    oof = pd.concat(preds).merge(pages["testlike"][["ID", "target"]], on="ID")
    fit = E._readable(pd.concat(pages.values()))
    expert = E.OcrExpert(classes, keywords).fit(fit["title"], fit["text"], fit["target"])
    t = _predict(expert, choose(test, how, expert), classes, is_expert).merge(test[["ID", "target"]], on="ID")
    return macro_f1(oof["target"], oof["pred"], classes), macro_f1(t["target"], t["pred"], classes)


def pose_figures(copies: pd.DataFrame) -> str:
    doubted = copies[copies[ALTS] != ""]
    truth = list(zip(doubted["true_orientation"].astype(float).astype(int),
                     doubted["true_mirrored"].astype(float).astype(bool)))
    pick = np.mean([(int(o), bool(m)) == t for o, m, t in zip(doubted["orientation"], doubted["mirrored"], truth)])
    other = np.mean([any((a["orientation"], a["mirrored"]) == t for a in json.loads(alts))
                     for alts, t in zip(doubted[ALTS], truth)])
    return (f"copies the pose model doubted: {len(doubted)} of {len(copies)}; the pick right on {pick:.0%}, "
            f"another pose read right on {other:.0%}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", type=Path, required=True, help="ocr.csv of a pass with --pose-sure > 0")
    ap.add_argument("--data", type=Path, required=True, help="the data dir (its test_labels.csv scores the test)")
    ap.add_argument("--work", type=Path, required=True, help="the work dir whose folds.csv the pass used")
    ap.add_argument("--classes", default=None, help="an expert's group (default: every class, the member)")
    a = ap.parse_args()
    table = read_table(a.table)
    train = pd.read_csv(a.data / "train.csv", dtype={"ID": str}).set_index("ID")["target"]
    folds = pd.read_csv(a.work / "folds.csv", dtype={"ID": str}).set_index("ID")["fold"]
    labels = pd.read_csv(a.data / "test_labels.csv", dtype={"ID": str}).set_index("ID")["target"]
    classes = [int(c) for c in a.classes.split(",")] if a.classes else sorted(int(c) for c in train.unique())
    pages = {}
    for kind, split in (("clean", "train"), ("testlike", "testlike")):
        rows = table[table["split"] == split]
        rows = rows.assign(target=train.loc[rows["ID"]].to_numpy(), fold=folds.loc[rows["ID"]].to_numpy())
        pages[kind] = rows[rows["target"].isin(classes)]
    test = table[table["split"] == "test"]
    test = test.assign(target=labels.loc[test["ID"]].to_numpy())
    test = test[test["target"].isin(classes)] if a.classes else test
    print(pose_figures(pages["testlike"]))
    keywords = E.load_keyword_file("default", classes)
    print(f"{'choice':<24} {'OOF (copies)':>12} {'test F1':>8}")
    for how in CHOICES:
        oof, test_f1 = score(pages, test, how, classes, keywords, bool(a.classes))
        print(f"{how:<24} {oof:>12.3f} {test_f1:>8.3f}", flush=True)


if __name__ == "__main__":
    main()
