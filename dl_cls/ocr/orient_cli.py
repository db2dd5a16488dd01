"""`dl-cls orient`: train (or reuse) the page-orientation model of a data dir (WORK/runs/orient-<hash>/) and print
its accuracy: on held-out folds of test-like corrupted train pages, and on the test images when the data dir has
their truth (test_orientation.csv: ID,turn,flip_h,flip_v,skew_deg, as the embedded sample writes it)."""
from __future__ import annotations

import json
import time

from dl_cls.artifacts.runs import read_run_config
from dl_cls.core.cli_options import add_data, add_label_fixes, add_work
from dl_cls.core.errors import DlClsError
from dl_cls.data.contract import load_data
from dl_cls.pose.model import (OrientSettings, is_finished, load_orientation, orientation_run_dir,
                                     score_test_images, train_orientation)

TRUTH_FILE = "test_orientation.csv"


def add_arguments(parser) -> None:
    add_data(parser)
    add_work(parser)
    add_label_fixes(parser)
    d = OrientSettings()
    parser.add_argument("--model", default=d.model, help=f"timm model, trained from scratch (default {d.model})")
    parser.add_argument("--img-size", type=int, default=d.img_size, help=f"input side in px (default {d.img_size})")
    parser.add_argument("--epochs", type=int, default=d.epochs,
                        help=f"default 0: as many as {d.steps} optimizer steps take")
    parser.add_argument("--copies", type=int, default=d.copies,
                        help=f"test-like corruptions per train page (default 0: {d.examples} in all, 2..12 a page)")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--holdout-folds", default=",".join(map(str, d.holdout_folds)),
                        help="folds of WORK/folds.csv to measure on, each with a model trained without it "
                             "(default %(default)s; 'none' to skip)")
    parser.add_argument("--testlike", default=None, metavar="YAML",
                        help="test-like corruption config (default: configs/testlike/default.yaml)")
    parser.add_argument("--workers", type=int, default=0, help="processes making examples (default: all cores)")


def _settings(args) -> OrientSettings:
    text = str(args.holdout_folds).strip().lower()
    try:
        holdout = () if text in ("", "none") else tuple(int(k) for k in text.split(","))
    except ValueError:
        raise DlClsError(f"--holdout-folds {args.holdout_folds!r}: expected fold numbers like 0,1 or 'none'") from None
    if args.img_size < 32 or args.epochs < 0 or args.copies < 0:
        raise DlClsError("--img-size must be >= 32, --epochs and --copies >= 0 (0: scaled to the pages)")
    return OrientSettings(model=args.model, img_size=args.img_size, epochs=args.epochs, copies=args.copies,
                          seed=args.seed, holdout_folds=holdout, workers=args.workers)


def _pct(score: dict | None) -> str:
    if not score or not score.get("n"):
        return "no pages"
    tta = f" (8-view average {score['accuracy_tta']:.1%})" if score.get("accuracy_tta") is not None else ""
    return f"{score['accuracy']:.1%}{tta} of {score['n']} pages"


def _print_score(title: str, score: dict) -> None:
    print(f"{title}: {_pct(score)} (turn right {score['turn_accuracy']:.1%}, mirror right "
          f"{score['mirror_accuracy']:.1%}); deskew within 10 deg: {_pct(score['deskew_within_10deg'])}, "
          f"off by more: {_pct(score['deskew_off_over_10deg'])}; skew > 30 deg: {_pct(score['skew_over_30deg'])}")
    key = "accuracy_tta" if score.get("accuracy_tta") is not None else "accuracy"  # what the reader uses
    by_class = sorted(score["by_class"].items(), key=lambda kv: kv[1][key] if kv[1]["n"] else 1)
    print(f"  per class, weakest first ({'8-view average' if key != 'accuracy' else 'one view'}): "
          + ", ".join(f"{name} {s[key]:.0%}" for name, s in by_class if s["n"]))


def run(args) -> int:
    dd = load_data(args.data, label_fixes=args.label_fixes)
    s = _settings(args)
    t0 = time.time()
    reused = is_finished(orientation_run_dir(dd, args.work, s, args.testlike, args.label_fixes))
    run_dir = train_orientation(dd, args.work, s, testlike=args.testlike, label_fixes=args.label_fixes, log=print)
    model = load_orientation(run_dir)  # a damaged model.pt is named before anything is announced
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    print(f"orientation model {run_dir} ({'reused' if reused else 'trained'}; {read_run_config(run_dir).model_config}"
          f" at {summary['img_size']} px, {summary['epochs']} epochs, {summary['examples']} examples; trained in "
          f"{summary['total_train_time_s']:.0f} s)")
    if summary.get("holdout"):
        _print_score(f"held-out folds {summary['holdout_folds']} (test-like corrupted train pages)", summary["holdout"])
    truth = dd.root / TRUTH_FILE
    if truth.is_file():
        score, ms = score_test_images(model, dd, truth)
        _print_score(f"test images ({TRUTH_FILE})", score)
        print(f"  inference {ms:.1f} ms/page on one thread (deskewed page in, probabilities out)")
    print(f"seconds: {time.time() - t0:.1f}")
    return 0
