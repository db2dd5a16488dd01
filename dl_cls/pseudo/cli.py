"""`dl-cls pseudo`: label confident test images with an ensemble's (or run's) prediction -> WORK/pseudo/<name>/,
the current pseudo set of the data dir (WORK/pseudo/current.json). See select.py for what is taken and why."""
from __future__ import annotations

import time
from pathlib import Path

from dl_cls.core.cli_options import add_data, add_work
from dl_cls.core.errors import DataError, DlClsError
from dl_cls.core.io import data_key


def add_arguments(parser) -> None:
    parser.add_argument("--from", dest="source", default=None, metavar="RUN",
                        help="the ensemble or run whose test probabilities label the images (a name under "
                             "WORK/ensembles or WORK/runs, or a path); default: the latest finished ensemble of "
                             "this data dir")
    add_data(parser)
    add_work(parser)
    parser.add_argument("--config", default=None,
                        help="YAML with threshold, cap_ratio, min_precision, min_oof (default configs/pseudo/"
                             "default.yaml)")
    parser.add_argument("--name", default=None, help="set name (default <source>_t<threshold>_c<cap_ratio>)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. threshold=0.8")


def find_source(value: str | None, work, data_root: Path) -> Path:
    """--from as given, else the newest finished ensemble made from data_root."""
    from dl_cls.artifacts.runs import resolve_run_dir
    from dl_cls.artifacts.runstate import list_runs

    if value:
        return resolve_run_dir(value, work, kinds=("ensembles", "runs"))
    key = data_key(data_root)
    done = [i for i in list_runs(work) if i.kind == "ensemble" and i.state == "finished" and i.data_dir == key]
    if not done:
        raise DlClsError(f"no finished ensemble of {key} in {Path(work) / 'ensembles'}: run `make ensemble` first, "
                         "or give FROM=<ensemble or run> (--from)")
    return max(done, key=lambda i: (i.date or "", i.name)).path


def load_source(path: Path, data_root: Path):
    """The source run with its probability tables, not being written, full-class and of this data dir; else one
    line."""
    from dl_cls.artifacts.runs import load_run
    from dl_cls.artifacts.runstate import held_lock

    lock = held_lock(path)
    if lock is not None:  # its oof.csv may be a fold's part or about to be replaced
        raise DlClsError(f"--from {path} is still being written (a running dl-cls holds {lock}); wait for it to "
                         "finish, then run this again")
    try:
        source = load_run(path)
    except DataError as exc:  # every problem, each naming its file and line (the header alone says nothing)
        shown = "; ".join(exc.problems[:3]) + (f"; and {len(exc.problems) - 3} more" if len(exc.problems) > 3 else "")
        raise DlClsError(f"--from {path}: not a finished run or ensemble ({shown})") from None
    except DlClsError as exc:
        raise DlClsError(f"--from {path}: not a finished run or ensemble ({str(exc).splitlines()[0]})") from None
    if source.is_subset:
        raise DlClsError(f"--from {path}: a class-subset run (classes {source.classes}) cannot label every test "
                         "image; use an ensemble or a full-class run")
    if data_key(source.config.data_dir) != data_key(data_root):
        raise DlClsError(f"--from {path} was made from {source.config.data_dir}, not {data_key(data_root)}")
    return source


def source_round(config) -> int:
    """The pseudo round a source already carries: the highest of its members' (an ensemble) or its own."""
    from dl_cls.artifacts.runs import read_run_config

    if config.kind != "ensemble" or config.ensemble is None:
        return int(config.pseudo_round or 0)
    rounds = [0]
    for member in config.ensemble.members + config.ensemble.specialists:
        try:
            rounds.append(int(read_run_config(member).pseudo_round or 0))
        except DlClsError:
            pass  # a member removed since: its round is unknown, the others still count
    return max(rounds)


def lined_up(source, dd) -> None:
    """The checks `dl-cls ensemble` makes of a member: a partial run, one still training or a cut oof.csv parses
    but lacks train IDs, and its per-class OOF precision would be measured on a part only."""
    from dl_cls.artifacts.runs import coverage_problems

    problems = coverage_problems(source, dd, "ensemble" if source.config.kind == "ensemble" else "run")
    if problems:
        raise DlClsError(f"--from {source.path}: {'; '.join(problems)}; `dl-cls ensemble` refuses it too (a partial "
                         "run, one still training, a cut file): finish it (make train RESUME=NAME, then dl-cls "
                         "merge-folds NAME) or make it again")


def text_run_note(source) -> str | None:
    """A line when the source is a text run whose test pages read worse than its test-like copies."""
    from dl_cls.artifacts.runs import test_shrink

    factor = test_shrink(source)
    if factor is None or factor >= 1:
        return None
    return (f"note: {source.name} is a text run whose test pages read at x{factor:.2f} of the test-like copies its "
            "OOF was measured on (summary.json test_shrink): its test probabilities are taken as they are, not "
            "shrunk as `dl-cls ensemble` does, so its OOF precision flatters it here; label with an ensemble that "
            "holds it, or raise threshold=")


def run(args) -> int:
    from dl_cls.artifacts.pseudosets import ROOT, record_current
    from dl_cls.artifacts.runs import check_name, load_truth
    from dl_cls.core.config import load_config
    from dl_cls.pseudo.select import DEFAULT_CONFIG, PseudoConfig, choose, closest, format_table
    from dl_cls.pseudo.write import write_set

    # every value checked here, each blamed on the --config file or the key=value override it came from
    cfg = load_config(PseudoConfig, Path(args.config) if args.config else DEFAULT_CONFIG, args.overrides)
    data_root = Path(args.data)
    source = load_source(find_source(args.source, args.work, data_root), data_root)
    dd = load_truth(source.config)
    lined_up(source, dd)
    for note in filter(None, [text_run_note(source)]):
        print(note)
    chosen, table = choose(source, dd, cfg)
    name = check_name(args.name or f"{source.name}_t{cfg.threshold:g}_c{cfg.cap_ratio:g}")
    out = Path(args.work) / ROOT / name
    settings = _settings(source, dd, cfg, table, chosen)
    print(f"pseudo-labels from {source.path} (round {settings['round']}): threshold {cfg.threshold:g}, cap "
          f"{cfg.cap_ratio:g} x train images per class, OOF precision floor {cfg.min_precision:g}")
    print(format_table(table))
    if chosen.empty:
        raise DlClsError(f"no test image passed: nothing written; best test probability per class: "
                         f"{closest(source, dd)}. Lower threshold= (now {cfg.threshold:g}) or min_precision= (now "
                         f"{cfg.min_precision:g}), or label with a stronger ensemble")
    write_set(out, chosen, dd.test_dir, settings, progress=not args.no_progress)
    print(f"taken: {len(chosen)} of {len(dd.test_ids)} test images ({len(chosen) / max(1, len(dd.test_ids)):.0%}) "
          f"-> {out}")
    pointer = record_current(args.work, dd.root, out, settings)
    print(f"current pseudo set of {data_key(dd.root)}: {out} (recorded in {pointer}); `make train` adds it "
          f"to every fold's training side (PSEUDO=none leaves it out); with an augment set, `make augment SCALE=... "
          f"PSEUDO={name}` first makes its augmented copies")
    return 0


def _settings(source, dd, cfg, table, chosen) -> dict:
    from dataclasses import asdict

    return {"format": 1, "made_by": "dl-cls pseudo", "source": str(source.path.resolve()),
            "source_name": source.name, "source_kind": source.config.kind or "run",
            "round": source_round(source.config) + 1, "data_dir": data_key(dd.root),
            "label_fixes": source.config.label_fixes, "config": asdict(cfg), "n_images": int(len(chosen)),
            "n_test": len(dd.test_ids),
            "per_class": table.astype(object).where(table.notna(), None).to_dict(orient="records"),
            "written": time.strftime("%Y-%m-%dT%H:%M:%S")}
