"""dl-cls ocr: read the train and test images (orientation-normalised, cached, parallel) into an OCR table, and
with --classes build the OCR expert for that group as a class-subset run dir (WORK/runs/<name>/) that
`dl-cls ensemble --specialist` accepts."""
from __future__ import annotations

import argparse
import functools
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from dl_cls.artifacts.runs import load_run, resolve_run_dir, run_path
from dl_cls.core.cli_options import add_data, add_label_fixes, add_work, fraction, positive_int, probability
from dl_cls.core.errors import DlClsError
from dl_cls.core.procs import default_workers
from dl_cls.data.contract import load_data
from dl_cls.data.folds import ensure_folds, load_folds
from dl_cls.imaging.testlike import default_config, load_testlike_config
from dl_cls.ocr.copies import COPIES_CONFIG, fit_copies, fit_lines, write_copies_config
from dl_cls.ocr.engine import make_engine
from dl_cls.ocr.normalised import check_target, write_normalised
from dl_cls.ocr.read import ReadSettings
from dl_cls.ocr.reread import BELOW, GROUP_READERS, REREADS, parse_rereads, reread, unsure_pages
from dl_cls.ocr.reread import DEFAULT as DEFAULT_REREAD
from dl_cls.ocr.table import (Job, ReadContext, TestlikePages, cost_line, merge_stats, read_all, settings_dir,
                              write_table)


def add_arguments(parser) -> None:
    add_data(parser)
    add_work(parser)
    parser.add_argument("--classes", nargs="+", default=None, metavar="GROUP",
                        help="class groups, e.g. 3,4,7,14: OCR only their train images (and every test image), "
                             "then build an OCR expert per group; 'all': every class, a full-class OCR member. "
                             "Several groups are read once: `--classes all 3,4,7,14` (make ocr) writes the "
                             "full-class member and the family expert from one pass")
    parser.add_argument("--name", default=None, help="expert run name, with one group (default: ocr-<classes>, "
                                                     "ocr-all)")
    parser.add_argument("--no-expert", action="store_true", help="only write the OCR table")
    parser.add_argument("--keywords", default="default",
                        help="title keyword list: 'default' (configs/ocr_keywords.csv), 'none' or a class,keyword CSV")
    _add_reading(parser)
    parser.add_argument("--test-from", default=None, metavar="RUN",
                        help="with --classes: read only the test images whose top class in RUN's test_probs.csv (a "
                             "full run or ensemble, name or path) is in the group, the rows dl-cls ensemble lets a "
                             "specialist change; the other test images get no prediction (uniform)")
    parser.add_argument("--workers", type=positive_int, default=None, help="processes (default: all cores)")
    parser.add_argument("--cache", default=None, metavar="DIR",
                        help="OCR cache root (default WORK/ocr); entries are checked against each image's bytes, so "
                             "one cache can serve several work dirs")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per image at most (default 60)")
    add_label_fixes(parser)
    parser.add_argument("--write-normalised", default=None, metavar="DIR",
                        help="also write every test image to DIR/<file name>: deskewed, turned upright and "
                             "un-mirrored as the OCR decided, an unchanged copy where it read none; a training "
                             "run's test_dir (title-band specialist). Replaces only a DIR dl_cls made for this")
    parser.add_argument("--testlike-seed", type=int, default=1234, help="seed of those copies (the trainer's default)")
    parser.add_argument("--copies", choices=("fit", "config"), default="fit",
                        help="fit (default): the copies are turned, mirrored and skewed like the test pages as "
                             "read, and taken with a farther camera while they read more letters a page than the "
                             "test pages (label-free, after the test pages are read); config: as --testlike-config "
                             "says")
    parser.add_argument("--train-copies", type=int, default=0, metavar="N",
                        help="also read N more test-like copies of each train page (other seeds of the same "
                             "corruption) for the text model to train on, never to predict (default 0; 1 raised "
                             "the text member's test F1 by 0.02 on the competition-size sample, at ~5 minutes more "
                             "of reading on 2 cores)")
    parser.add_argument("--reread", default=DEFAULT_REREAD, metavar="READERS",
                        help="read the copies and test pages the text model is unsure about (top probability under "
                             "--reread-below, or no text) again with other settings, and let the text models keep "
                             f"the reading they are surest about: comma-separated among {', '.join(REREADS)} "
                             "(raw: tesseract's own binarisation; x1.5: upscaled; rules: table rules whitened; "
                             "title: the title band alone at x1.5, only on the pages the text model leans towards "
                             f"an expert group), or none (default {DEFAULT_REREAD}; on make demo's sample the "
                             "member's test F1 0.59 -> 0.69 with raw at 0.23 CPU s a re-read, 0.73 with raw,x1.5 at "
                             "0.9 s; title: the family expert's +0.03 at ~0.2 s on ~40%% of those pages)")
    parser.add_argument("--reread-below", type=probability, default=BELOW, metavar="P",
                        help=f"a page is read again when the text model's top probability is under P (default "
                             f"{BELOW}: above it the member's rows were 95-97%% right on the real test and copies)")
    parser.add_argument("--testlike-config", default=None, metavar="YAML",
                        help="corruption of those copies (default configs/testlike/default.yaml; e.g. the one "
                             "dl-cls profile --fit wrote)")
    parser.add_argument("--no-progress", action="store_true")


def _add_reading(parser) -> None:
    """How pages are read: engine, languages, scale, pose (every one of them is part of the cache key)."""
    parser.add_argument("--engine", default="tesseract")
    parser.add_argument("--tesseract", default="tesseract",
                        help="the tesseract binary (default: the one on PATH, whose libtesseract the workers call in "
                             "process when it is the same version: ~47 ms less CPU a page, the same words; a binary "
                             "named here is run as a command per page)")
    parser.add_argument("--lang", default=ReadSettings.lang, help="tesseract languages (default: kor; kor+eng also reads Latin words, at 1.3x the time)")
    parser.add_argument("--title-frac", type=fraction, default=ReadSettings.title_frac,
                        help=f"the title band: this share of the page from the top (default {ReadSettings.title_frac})")
    parser.add_argument("--upscale", type=float, default=ReadSettings.upscale,
                        help="scale pages are read at (default 1: fastest, and the best on the sample's test pages "
                             "and for the full-class member; 1.5 read the family expert's test-like copies better at "
                             "1.7x the time: docs/benchmarks.md)")
    parser.add_argument("--invert-lines", action=argparse.BooleanOptionalAction, default=ReadSettings.invert_lines,
                        help="let tesseract re-read unsure lines as white-on-black text (its own default, off here: "
                             "the pages it gets are binarised dark-on-white, and the re-reads cost ~1.5x the time)")
    parser.add_argument("--drop-rules", action=argparse.BooleanOptionalAction, default=ReadSettings.drop_rules,
                        help="whiten table rules and box edges before reading (tesseract reads them as | I ㅣ and "
                             "they break its lines; on the sample 15%% more confident letters at the same time)")
    parser.add_argument("--all-turns", action="store_true",
                        help="when the OCR decides the pose: try all 4 turns x mirror instead of the 2 turns the "
                             "text-direction test leaves")
    parser.add_argument("--pose-sure", type=probability, default=ReadSettings.orient_sure, metavar="P",
                        help="the pose model's pick alone is read when its probability is >= P; below, its likeliest "
                             "2-3 poses are read and --pose-choice decides among the readings (default "
                             f"{ReadSettings.orient_sure}; 0: always its pick alone, one engine call a page)")
    parser.add_argument("--pose-choice", choices=("text", "ocr"), default=ReadSettings.choose,
                        help="with --pose-sure > 0, among a doubted page's readings: text (default), the one the "
                             "text model is surest about (the pick's reading is the table's, the others are kept "
                             "beside it); ocr: the most confident reading (the reader before version 5)")
    parser.add_argument("--orientation", choices=("model", "ocr"), default="model",
                        help="model (default): the turn x mirror model trained on this data dir's train pages "
                             "(WORK/runs/orient-*, trained on first use, ~4.5-5 min on 2 cores) picks the "
                             "pose; the OCR reads only that one (see --pose-sure). ocr: the most "
                             "confident title reading among the candidates decides (slower, weaker on dense pages)")


def parse_classes(text: str | None, num_classes: int) -> list[int] | None:
    """--classes: a group (3,4,7,14), 'all' (every class: a full-class OCR member), or None (no expert)."""
    if not text:
        return None
    if text.strip().lower() == "all":
        return list(range(num_classes))
    try:
        classes = [int(c) for c in text.split(",") if c.strip()]
    except ValueError as exc:
        raise DlClsError(f"--classes {text!r}: expected comma-separated class indices, e.g. 3,4,7,14, or all") from exc
    if len(classes) < 2 or len(set(classes)) != len(classes):
        raise DlClsError(f"--classes {text!r}: give two or more distinct classes")
    return classes


def parse_groups(texts: list[str] | None, num_classes: int) -> list[list[int]]:
    """--classes GROUP [GROUP ...] -> the groups (none: only the table is written), each checked, none twice."""
    groups = [parse_classes(t, num_classes) for t in texts or []]
    for text, group in zip(texts or [], groups):
        if group is None:
            raise DlClsError(f"--classes {text!r}: an empty group; give class indices such as 3,4,7,14, or all")
        if set(group) - set(range(num_classes)):
            raise DlClsError(f"--classes {text}: the data dir has classes 0..{num_classes - 1}")
    if len({tuple(sorted(g)) for g in groups}) < len(groups):
        raise DlClsError(f"--classes {' '.join(texts)}: a group is given twice")
    return groups


def read_classes(groups: list[list[int]]) -> list[int] | None:
    """The classes whose train pages are read: every group's (None: all, when no group is given)."""
    return sorted({c for g in groups for c in g}) if groups else None


def _train_rows(dd, classes):
    return dd.train if classes is None else dd.train[dd.train["target"].isin(classes)]


def _jobs(dd, classes, test_ids) -> list[Job]:
    jobs = [Job("train", i, str(dd.train_path(i))) for i in _train_rows(dd, classes)["ID"]]
    return jobs + [Job("test", i, str(dd.test_path(i))) for i in test_ids]


def _testlike_pages(args, dd, classes) -> TestlikePages:
    """Seeded test-like copies of the group's train pages, as the trainer validates: the expert's OOF is always
    predicted on these (never on clean pages alone, which flatter it), so its blend weight is fitted on what the
    test looks like."""
    ids = list(_train_rows(dd, classes)["ID"])
    cfg = load_testlike_config(args.testlike_config) if args.testlike_config else None
    return TestlikePages(tuple(str(dd.train_path(i)) for i in ids), tuple(ids), args.testlike_seed, cfg)


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


def _orientation_run(args, dd) -> str | None:
    """The orientation model's run dir (trained now when this data dir and split have none), or None."""
    if args.orientation != "model":
        return None
    from dl_cls.pose.model import load_orientation, train_orientation

    try:
        run = train_orientation(dd, args.work, testlike=args.testlike_config, label_fixes=args.label_fixes, log=print)
    except DlClsError as exc:  # e.g. too few pages for the default 5 folds
        raise DlClsError(f"orientation model: {exc}; make the folds first (dl-cls folds --n-folds 3) or let the OCR "
                         "choose the pose (--orientation ocr)") from None
    load_orientation(run)  # a damaged model.pt is named here, before it is announced or sent to the workers
    held = (json.loads((run / "summary.json").read_text(encoding="utf-8")).get("holdout") or {})
    tta = f", {held['accuracy_tta']:.1%} averaged over its 8 views as the reader uses it" if held.get("accuracy_tta") else ""
    score = f" (held-out: {held['accuracy']:.1%} of {held['n']} test-like train pages{tta})" if held else ""
    print(f"orientation model: {run}{score}; `dl-cls orient` prints its errors by cause and class", flush=True)
    return str(run)


def _check_args(args, dd, groups) -> None:
    """Every refusal before the expensive part."""
    if not 0 <= args.train_copies <= 8:
        raise DlClsError(f"--train-copies must be between 0 and 8, got {args.train_copies}")
    if not args.budget > 0:  # 0 would stop every read before it starts: a table of empty rows
        raise DlClsError(f"--budget must be > 0 seconds per image, got {args.budget}")
    if not 0.25 <= args.upscale <= 4:
        raise DlClsError(f"--upscale must be between 0.25 and 4, got {args.upscale}")
    if args.test_from and len(groups) != 1:
        raise DlClsError("--test-from needs exactly one --classes group (the group whose test images to read)")
    if args.test_from and len(groups[0]) == dd.num_classes:
        raise DlClsError("--test-from with --classes all: a full-class member reads every test image; drop it")
    if args.name and len(groups) > 1:
        raise DlClsError("--name names one expert; with several --classes groups each gets its default name "
                         "(ocr-all, ocr-3-4-7-14, ...)")
    if args.write_normalised:
        check_target(args.write_normalised)
    parse_rereads(args.reread)
    if args.testlike_config:  # read now even where unused (--no-expert): a wrong file is named before any page
        load_testlike_config(args.testlike_config)


def _read_copies(args, dd, ctx, pages: TestlikePages, table, comparable: bool, workers: int):
    """The test-like copies' rows (fitted to the test pages already in `table` unless --copies config; then
    --train-copies more of each page), the fit (None when not fitted) and the reading stats (the probe copies'
    included: their reading is part of the cost)."""
    fit, more_stats = None, []
    if args.copies == "fit":
        def read(probe: TestlikePages):
            cam = probe.cfg.camera
            print(f"  fitting the copies: {len(probe.ids)} probe copies"
                  + (f", camera scale {cam.scale[0]:g}-{cam.scale[1]:g}" if cam.p else ", no camera"), flush=True)
            rows, stats = read_all(probe.jobs(), replace(ctx, testlike=probe), workers, progress=False)
            more_stats.append(stats)
            return rows

        targets = dd.train.set_index("ID").loc[list(pages.ids), "target"].tolist()
        fit = fit_copies(pages.cfg or default_config(), table[table["split"] == "test"], pages, targets, read,
                         comparable, table[table["split"] == "train"])
        pages = replace(pages, cfg=fit.config)
    copies, stats = read_all(pages.jobs(), replace(ctx, testlike=pages), workers, progress=not args.no_progress)
    if fit:
        fit.read_back(copies)
        print("\n".join(fit_lines(fit, copies)), flush=True)
    parts = [copies]
    for k in range(1, args.train_copies + 1):  # other seeds of the same corruption: trained on, never predicted
        extra = replace(pages, seed=pages.seed + k, split=f"extra{k}")
        print(f"training copies {k} of {args.train_copies}: {len(extra.ids)} pages", flush=True)
        rows, more = read_all(extra.jobs(), replace(ctx, testlike=extra), workers, progress=not args.no_progress)
        parts.append(rows)
        more_stats.append(more)
    return pd.concat(parts, ignore_index=True), fit, functools.reduce(merge_stats, more_stats, stats)


def _reread(args, dd, ctx, table, jobs, groups, where, workers) -> tuple[pd.DataFrame, list[dict]]:
    """The table with the unsure copies' and test pages' second readings in their alts (--reread), and the stats of
    each second reader."""
    names = parse_rereads(args.reread)
    if not names:
        return table, []
    engine, orient_run = where
    classes = read_classes(groups)
    judged = list(range(dd.num_classes)) if classes is None else classes
    experts = [g for g in groups if len(g) < dd.num_classes]  # not the full-class member
    unsure = unsure_pages(table, dd, args.work, judged, args.keywords, args.reread_below, bool(args.test_from),
                          experts)
    print(f"re-reading the pages the text model is unsure about (top probability < {args.reread_below:g} or no "
          f"text): {_pages(unsure.pages)}, with {', '.join(names)}", flush=True)
    if GROUP_READERS & set(names):
        print(f"  {', '.join(sorted(GROUP_READERS & set(names)))}: only the {_pages(unsure.leaning)} of them leaning "
              "towards an expert group" + (" (whose classes differ in their titles)" if experts else
                                          " (none: --classes names no group besides 'all')"), flush=True)
    return reread(table, unsure, jobs, ctx, names, (args.work, engine, args.cache, orient_run), workers,
                  not args.no_progress, read_all)


def _pages(ids: dict[str, set[str]]) -> str:
    return f"{len(ids['testlike'])} copies, {len(ids['test'])} test pages"


def shared_folds(work, dd):
    """WORK/folds.csv, made with the defaults when there is none."""
    return load_folds(work, dd) if (Path(work) / "folds.csv").is_file() else ensure_folds(work, dd)


def _write_experts(args, dd, outs, groups, table, info: dict, fit) -> None:
    """One text run per group from the table; with fitted copies, their corruption written into each."""
    from dl_cls.ocr.rundir import build_expert_run, describe

    info["testlike"] = {"seed": args.testlike_seed, "config": args.testlike_config,
                        "fitted": fit.summary() if fit else None}
    for out, group in zip(outs, groups):
        print(describe(build_expert_run(out, table, dd, args.work, group, args.keywords, info), out))
        if fit:
            write_copies_config(out, fit.config)
    if fit:
        print(f"the copies' corruption: {outs[0] / COPIES_CONFIG}; the CNN's test-like validation can use the same: "
              f"dl-cls train ... testlike_config={outs[0] / COPIES_CONFIG}")


def _expert_name(args, classes, num_classes) -> str:
    return args.name or ("ocr-all" if len(classes) == num_classes else "ocr-" + "-".join(map(str, classes)))


def _outputs(args, dd, groups) -> list:
    """The expert run dirs to write, one per group (none with --no-expert); refused before any reading when one
    exists."""
    if args.no_expert:
        return []
    outs = [run_path(args.work, _expert_name(args, g, dd.num_classes)) for g in groups]
    for out in outs:
        if out.exists():
            raise DlClsError(f"{out} already exists; outputs are never overwritten. Pick another --name.")
    return outs


def run(args) -> int:
    dd = load_data(args.data, label_fixes=args.label_fixes)
    groups = parse_groups(args.classes, dd.num_classes)
    outs = _outputs(args, dd, groups)
    _check_args(args, dd, groups)
    if outs:  # the experts are cross-validated on WORK/folds.csv: made on first use (as dl-cls train does), before
        shared_folds(args.work, dd)  # any reading, so a data dir too small for them fails now
    classes = read_classes(groups)
    test_ids = group_test_ids(args.test_from, args.work, dd, classes) if args.test_from else dd.test_ids
    settings = ReadSettings(lang=args.lang, title_frac=args.title_frac, all_turns=args.all_turns, upscale=args.upscale,
                            invert_lines=args.invert_lines, orient_sure=args.pose_sure, choose=args.pose_choice,
                            drop_rules=args.drop_rules)
    engine = make_engine(args.engine, settings.lang, args.tesseract, settings.invert_lines)
    engine.check()
    orient_run = _orientation_run(args, dd)
    root = settings_dir(args.work, engine, settings, args.cache, orient_run)
    testlike = _testlike_pages(args, dd, classes) if outs else None
    jobs = _jobs(dd, classes, test_ids)
    n_tl = len(testlike.ids) if testlike else 0
    n_extra = n_tl * args.train_copies
    extra = f", {n_extra} more to train on" if n_extra else ""
    print(f"ocr: {len(jobs) + n_tl + n_extra} images ({len(jobs) - len(test_ids)} train, {n_tl} test-like copies of "
          f"them{extra}, "
          f"{len(test_ids)} of {len(dd.test_ids)} test) with {engine.version()} [{args.lang}], cache {root}",
          flush=True)
    ctx = ReadContext(engine, settings, args.budget, str(root), None, orient_run)
    workers = args.workers or default_workers()
    table, stats = read_all(jobs, ctx, workers, progress=not args.no_progress)
    fit = None
    if testlike:  # read after the test pages: the copies are fitted to how those read
        comparable = bool(args.test_from) or len(classes or range(dd.num_classes)) == dd.num_classes
        copies, fit, more = _read_copies(args, dd, ctx, testlike, table, comparable, workers)
        table = pd.concat([table[table["split"] == "train"], copies, table[table["split"] == "test"]],
                          ignore_index=True)
        stats = merge_stats(stats, more)
        pages = replace(testlike, cfg=fit.config) if fit else testlike
        again = pages.jobs() + [j for j in jobs if j.split == "test"]  # the pages a second reading may serve
        table, more = _reread(args, dd, replace(ctx, testlike=pages), table, again, groups, (engine, orient_run),
                              workers)
        stats = functools.reduce(merge_stats, more, stats)
    path = write_table(table, root)
    shown = {k: v for k, v in stats.items() if k != "cpu_by_kind"}  # said on its own line
    print(f"wrote {path}: {json.dumps(shown)}; no readable text: {int((table['n_chars'] < 2).sum())} images")
    cost = cost_line(stats)
    if cost:
        print(cost)
    if args.write_normalised:
        counts = write_normalised(args.write_normalised, table, dd, progress=not args.no_progress)
        print(f"wrote {args.write_normalised}: {counts['normalised']} test images normalised, {counts['copied']} "
              f"copied unchanged (not read); use it with dl-cls train ... test_dir={args.write_normalised}")
    if outs:
        info = {"label_fixes": str(args.label_fixes), "ocr_dir": str(root.resolve()), "settings": settings.key(),
                "stats": stats, "test_from": args.test_from,
                "reread": {"readers": parse_rereads(args.reread), "below": args.reread_below}}
        _write_experts(args, dd, outs, groups, table, info, fit)
    return 0
