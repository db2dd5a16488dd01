"""Which second reading helps the test pages the text model is unsure about? (issue 29 item 3; dl-cls ocr --reread)

Takes one finished `dl-cls ocr --classes all` pass (its ocr.csv: train pages, test-like copies, test pages, first
readings), fits the full-class text model on every readable train row as predict_test does, and reads the test
pages it is unsure about (top probability < 0.5, or no text) again with each candidate reader, in 2 processes. For
each candidate (or '+'-joined set of them) the second readings join the pages' alts and the text model keeps its
surest reading; printed: test macro F1 against the sample's labels, the share of sure pages, how many pages took a
second reading, the family's accuracy, and the CPU seconds a re-read. Every row starts from the same first readings,
so the differences are the second reading alone. Run it alone on the machine.

    python bench/ocr_reread.py --data work/demo/sample --work WORK [--readers raw x1.5 raw+x1.5 hangul]

WORK: the pass's work dir (its ocr/ table and runs/orient-*). hangul needs Debian's tesseract-ocr-script-hang.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from dl_cls.artifacts.runs import macro_f1
from dl_cls.ocr import expert as E
from dl_cls.ocr.engine import TesseractEngine
from dl_cls.ocr.read import ReadSettings
from dl_cls.ocr.reread import REREADS, with_rereads
from dl_cls.ocr.table import ALTS, Job, ReadContext, read_all, read_table

READERS = {**{name: ReadSettings(**change) for name, change in REREADS.items()},
           "hangul": ReadSettings(lang="kor+Hangul"), "raw x1.5 in one": ReadSettings(binarise=False, upscale=1.5),
           "title x2": ReadSettings(title_only=True, upscale=2.0),
           "title raw x2": ReadSettings(title_only=True, upscale=2.0, binarise=False),
           "title x3": ReadSettings(title_only=True, upscale=3.0)}
FAMILY = [3, 4, 7, 14]


def _score(expert, test: pd.DataFrame) -> dict:
    test = E.surest_readings(expert, test)
    probs = np.full((len(test), 17), 1 / 17)
    ok = E.has_text(test)
    probs[ok] = expert.predict_proba(list(test["title"][ok]), list(test["text"][ok]))[0]
    pred, y = probs.argmax(1), test["target"].to_numpy()
    fam = np.isin(y, FAMILY)
    return {"f1": macro_f1(y, pred), "sure": float((probs.max(1) >= 0.5).mean()),
            "chosen": int(test["chosen_alt"].sum()), "family": float((pred[fam] == y[fam]).mean()), "probs": probs}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--readers", nargs="+", default=["raw", "x1.5", "rules", "raw+x1.5", "raw x1.5 in one"])
    args = ap.parse_args(argv)
    table = read_table(next((args.work / "ocr").glob("*/ocr.csv")))
    labels = pd.concat([pd.read_csv(args.data / f, dtype={"ID": str}) for f in ("train.csv", "test_labels.csv")])
    table["target"] = table["ID"].map(labels.set_index("ID")["target"])
    classes = list(range(17))
    fit = E._readable(table[table["split"].isin(["train", "testlike"])])
    expert = E.OcrExpert(classes, E.load_keyword_file("default", classes)).fit(fit["title"], fit["text"], fit["target"])
    test = table[table["split"] == "test"].reset_index(drop=True)
    first = test.assign(**{ALTS: ""})
    base = _score(expert, first)
    unsure = test["ID"][base["probs"].max(1) < 0.5].tolist()
    orient = str(next((args.work / "runs").glob("orient-*")))
    jobs = [Job("test", i, str(args.data / "test" / i)) for i in unsure]
    print(f"{len(test)} test pages, {len(unsure)} unsure (p < 0.5 or no text); first reading: macro F1 "
          f"{base['f1']:.3f}, sure {base['sure']:.0%}, family accuracy {base['family']:.3f}\n")
    print(f"{'second reading':<18} {'macro F1':>8} {'gain':>6} {'sure':>5} {'chosen':>6} {'family':>6} {'CPU s':>6}")
    rows_by_reader, cpu = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for combo in args.readers:
            for name in combo.split("+"):
                if name not in rows_by_reader:
                    s = READERS[name]
                    ctx = ReadContext(TesseractEngine(s.lang), s, 60.0, str(Path(tmp) / name), None, orient)
                    rows_by_reader[name], stats = read_all(jobs, ctx, 2, progress=False)
                    cpu[name] = stats["cpu_seconds_per_image"]
            again = first  # the first readings alone: ocr.csv's alts may hold the pass's own second readings
            for name in combo.split("+"):
                again = with_rereads(again, rows_by_reader[name])
            r = _score(expert, again)
            secs = sum(cpu[n] or 0 for n in combo.split("+"))
            print(f"{combo:<18} {r['f1']:>8.3f} {r['f1'] - base['f1']:>+6.3f} {r['sure']:>5.0%} {r['chosen']:>6} "
                  f"{r['family']:>6.3f} {secs:>6.2f}", flush=True)
    print("\nchosen: test pages whose surest reading was the second one; family: accuracy on the test pages of classes "
          "3, 4, 7, 14; CPU s: a re-read, one OCR thread, pose model included")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
