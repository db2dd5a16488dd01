"""dl-cls ocr: read the train and test images (orientation-normalised, cached, parallel) into an OCR table, and
with --classes build the OCR expert for that group as a class-subset run dir (WORK/runs/<name>/) that
`dl-cls ensemble --specialist` accepts."""
from __future__ import annotations

import json

import numpy as np

from dl_cls.cli_options import add_data, add_label_fixes, add_work
from dl_cls.data.contract import load_data
from dl_cls.errors import DlClsError
from dl_cls.ocr.engine import make_engine
from dl_cls.ocr.normalised import check_target, write_normalised
from dl_cls.ocr.read import ReadSettings
from dl_cls.ocr.table import Job, default_workers, read_all, settings_dir, write_table
from dl_cls.runs import load_run, resolve_run_dir, run_path


def add_arguments(parser) -> None:
    add_data(parser)
    add_work(parser)
    parser.add_argument("--classes", default=None,
                        help="a class group, e.g. 3,4,7,14: OCR only its train images (and every test image), "
                             "then build the OCR expert for it")
    parser.add_argument("--name", default=None, help="expert run name (default: ocr-<classes>)")
    parser.add_argument("--no-expert", action="store_true", help="only write the OCR table")
    parser.add_argument("--keywords", default="default",
                        help="title keyword list: 'default' (configs/ocr_keywords.csv), 'none' or a class,keyword CSV")
    parser.add_argument("--engine", default="tesseract")
    parser.add_argument("--tesseract", default="tesseract", help="the tesseract binary")
    parser.add_argument("--lang", default=ReadSettings.lang, help="tesseract languages (default: kor+eng)")
    parser.add_argument("--title-frac", type=float, default=ReadSettings.title_frac)
    parser.add_argument("--all-turns", action="store_true",
                        help="try all 4 turns x mirror instead of the 2 turns the text-direction test leaves")
    parser.add_argument("--test-from", default=None, metavar="RUN",
                        help="with --classes: read only the test images whose top class in RUN's test_probs.csv (a "
                             "full run or ensemble, name or path) is in the group, the rows dl-cls ensemble lets a "
                             "specialist change; the other test images get no prediction (uniform)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--cache", default=None, metavar="DIR",
                        help="OCR cache root (default WORK/ocr); entries are checked against each image's bytes, so "
                             "one cache can serve several work dirs")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per image at most (default 60)")
    add_label_fixes(parser)
    parser.add_argument("--write-normalised", default=None, metavar="DIR",
                        help="also write every test image to DIR/<file name>: deskewed, turned upright and "
                             "un-mirrored as the OCR decided, an unchanged copy where it read none; a training "
                             "run's test_dir (title-band specialist). Replaces only a DIR dl_cls made for this")
    parser.add_argument("--no-progress", action="store_true")


def parse_classes(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        classes = [int(c) for c in text.split(",") if c.strip()]
    except ValueError as exc:
        raise DlClsError(f"--classes {text!r}: expected comma-separated class indices, e.g. 3,4,7,14") from exc
    if len(classes) < 2 or len(set(classes)) != len(classes):
        raise DlClsError(f"--classes {text!r}: give two or more distinct classes")
    return classes


def _jobs(dd, classes, test_ids) -> list[Job]:
    train = dd.train if classes is None else dd.train[dd.train["target"].isin(classes)]
    jobs = [Job("train", i, str(dd.train_path(i))) for i in train["ID"]]
    return jobs + [Job("test", i, str(dd.test_path(i))) for i in test_ids]


def group_test_ids(run: str, work, dd, classes) -> list[str]:
    """The test IDs (sample_submission order) whose top class in a full run's or ensemble's test_probs.csv is in
    `classes`: the rows `dl-cls ensemble` lets a specialist change with its default rule."""
    run_dir = resolve_run_dir(run, work, ("ensembles", "runs"))
    loaded = load_run(run_dir)
    if loaded.is_subset:
        raise DlClsError(f"--test-from {run}: {run_dir} is a class-subset run; give a full run or an ensemble")
    if set(loaded.test["ID"]) != set(dd.test_ids):
        raise DlClsError(f"--test-from {run}: {run_dir / 'test_probs.csv'} has other test IDs than "
                         f"{dd.root / 'sample_submission.csv'}")
    top = np.asarray(loaded.classes)[loaded.test_probs().argmax(1)]
    keep = set(loaded.test["ID"][np.isin(top, classes)])
    return [i for i in dd.test_ids if i in keep]


def run(args) -> int:
    dd = load_data(args.data, label_fixes=args.label_fixes)
    classes = parse_classes(args.classes)
    if classes is not None and set(classes) - set(range(dd.num_classes)):
        raise DlClsError(f"--classes {args.classes}: {dd.root}/meta.csv has classes 0..{dd.num_classes - 1}")
    expert = classes is not None and not args.no_expert
    out = run_path(args.work, args.name or "ocr-" + "-".join(map(str, classes))) if expert else None
    if out is not None and out.exists():  # fail before the expensive part
        raise DlClsError(f"{out} already exists; outputs are never overwritten. Pick another --name.")
    if args.test_from and classes is None:
        raise DlClsError("--test-from needs --classes (the group whose test images to read)")
    if args.write_normalised:
        check_target(args.write_normalised)
    test_ids = group_test_ids(args.test_from, args.work, dd, classes) if args.test_from else dd.test_ids
    engine = make_engine(args.engine, args.lang, args.tesseract)
    engine.check()
    settings = ReadSettings(lang=args.lang, title_frac=args.title_frac, all_turns=args.all_turns)
    root = settings_dir(args.work, engine, settings, args.cache)
    jobs = _jobs(dd, classes, test_ids)
    print(f"ocr: {len(jobs)} images ({len(jobs) - len(test_ids)} train, {len(test_ids)} of {len(dd.test_ids)} "
          f"test) with {engine.version()} [{args.lang}], cache {root}", flush=True)
    table, stats = read_all(jobs, engine, settings, root, args.workers or default_workers(), args.budget,
                            progress=not args.no_progress)
    path = write_table(table, root)
    print(f"wrote {path}: {json.dumps(stats)}; no readable text: {int((table['n_chars'] < 2).sum())} images")
    if args.write_normalised:
        counts = write_normalised(args.write_normalised, table, dd, progress=not args.no_progress)
        print(f"wrote {args.write_normalised}: {counts['normalised']} test images normalised, {counts['copied']} "
              f"copied unchanged (not read); use it with dl-cls train ... test_dir={args.write_normalised}")
    if expert:
        from dl_cls.ocr.rundir import build_expert_run

        info = {"label_fixes": str(args.label_fixes), "ocr_dir": str(root.resolve()), "settings": settings.key(),
                "stats": stats, "test_from": args.test_from}
        summary = build_expert_run(out, table, dd, args.work, classes, args.keywords, info)
        print(f"OCR expert {out}: OOF macro F1 {summary['oof_f1']:.4f} on {summary['oof_rows']} of "
              f"{summary['train_rows']} train images with text ({summary['oof_f1_all_rows']:.4f} counting the rest "
              f"as wrong); keyword rule fired on {summary['rule_fired_oof']:.0%}; test images with text "
              f"{summary['test_coverage']:.0%}.\nUse it: dl-cls ensemble RUNS... --specialist {out.name}")
    return 0
