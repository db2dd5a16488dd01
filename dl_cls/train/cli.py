"""`dl-cls train`: k-fold training of one model config into WORK/runs/<name>/."""
from __future__ import annotations

import argparse
import os

from dl_cls.core.cli_options import add_label_fixes, add_work
from dl_cls.core.config import parse_overrides


def int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.replace(" ", "").split(",") if x != ""]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 0,1,2, got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="configs/models/NAME.yaml (e.g. tiny, resnet34, swin_base) or a YAML path")
    parser.add_argument("--data", default=None, help="competition data dir (default: data)")
    add_work(parser)
    parser.add_argument("--aug", default=None, help="augmented set dir (WORK/aug/...), or 'none' for the originals "
                        "with strong online augmentation; default: the work dir's current set of this data dir "
                        "(the last one `dl-cls augment` completed, WORK/aug/current.json), else the originals")
    parser.add_argument("--pseudo", default=None, metavar="SET",
                        help="pseudo-label set (dl-cls pseudo; a name under WORK/pseudo or a path) added to every "
                             "fold's training side, never to a validation fold; 'none' for none. Default: the one "
                             "the AUG set holds copies of, or without an AUG set the current set of this data dir")
    parser.add_argument("--folds", type=int_list, default=None, help="folds to train, e.g. 0,1 (default: all)")
    parser.add_argument("--name", default=None, help="run name (default: <model>-<timestamp>); never overwritten")
    parser.add_argument("--resume", default=None, metavar="RUN",
                        help="continue RUN (name under WORK/runs or a path): finished folds are skipped, an "
                             "interrupted fold continues from its last epoch")
    parser.add_argument("--dry-run", action="store_true", help="print the resolved config and per-fold counts")
    add_label_fixes(parser)
    parser.add_argument("--classes", type=int_list, default=None, help="specialist: train on these classes only")
    parser.add_argument("--focus", default=None, help="CLASSES:FACTOR, e.g. 3,4,7,14:3 oversamples those x3")
    parser.add_argument("--fraction", type=float, default=None, help="fraction of the augmented copies to use")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--pose", choices=("all", "upright"), default=None,
                        help="all (default): learn the 8 poses, average TTA views; upright: learn upright pages, "
                             "straighten each test page with the pose model first (config key pose)")
    parser.add_argument("--cpu", action="store_true", help="train on the CPU even when a GPU is present")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="config overrides, e.g. epochs=1 pretrained=false lr=3e-4 classes=[3,4,7,14]")


def spec_from_args(args: argparse.Namespace):
    from dl_cls.train.kfold import RunSpec

    overrides = parse_overrides(args.overrides)
    for key in ("classes", "focus", "fraction", "epochs", "pose"):
        value = getattr(args, key, None)
        if value is not None:
            overrides[key] = value
    aug_dir = resolve_aug(args)
    return RunSpec(model=args.model, data_dir=args.data, work_dir=args.work, aug_dir=aug_dir,
                   pseudo_dir=resolve_pseudo(args, aug_dir), folds=args.folds,
                   name=args.name, resume=args.resume, dry_run=args.dry_run, label_fixes=args.label_fixes,
                   overrides=overrides or None)


def resolve_aug(args: argparse.Namespace) -> str | None:
    """--aug DIR as given; --aug none: the originals; no --aug: the current set of this data dir (say which)."""
    if args.aug is not None:
        return None if args.aug.lower() == "none" else args.aug
    if args.resume:
        return None  # a resumed run keeps the set it was started with (saved in its config.yaml)
    from dl_cls.artifacts.augsets import current_set
    from dl_cls.data.contract import load_data

    choice = current_set(args.work, load_data(args.data or "data", args.label_fixes))
    if os.environ.get("RANK", "0") == "0":  # torchrun: say it once
        print(choice.message, flush=True)
    return str(choice.aug_dir) if choice.aug_dir else None


def resolve_pseudo(args: argparse.Namespace, aug_dir: str | None) -> str | None:
    """--pseudo SET as given; none: no pseudo-labels; no --pseudo: the AUG set's, or the current set (say which)."""
    from dl_cls.artifacts import pseudosets

    if args.pseudo is not None:
        return None if args.pseudo.lower() == "none" else str(pseudosets.resolve(args.pseudo, args.work))
    if args.resume:
        return None  # a resumed run keeps its pseudo set (saved in its config.yaml)
    path, message = _default_pseudo(args, aug_dir)
    if os.environ.get("RANK", "0") == "0":
        print(message, flush=True)
    return path


def _default_pseudo(args: argparse.Namespace, aug_dir: str | None) -> tuple[str | None, str]:
    from dl_cls.artifacts import pseudosets

    current = pseudosets.current_dir(args.work, args.data or "data")
    if aug_dir is not None:
        held = pseudosets.in_aug_set(aug_dir)
        if held:
            return held["dir"], (f"pseudo set: {held['dir']} (round {held.get('round')}, its {held.get('images')} "
                                 f"images' copies are in the augment set); {pseudosets.HINT}")
        hint = ""
        if current is not None:  # one deleted since the pointer named it is never suggested
            hint = (f"; the current pseudo set {current} is not in it: `make augment SCALE=... "
                    f"PSEUDO={current.name}` adds it" if current.is_dir() else
                    f"; the current pseudo set {current} no longer exists: `make pseudo` makes one")
        return None, f"pseudo set: none (augment set {aug_dir} holds no pseudo-labelled copies{hint})"
    if current is None:
        return None, "pseudo set: none (`make pseudo` labels confident test images with the latest ensemble)"
    return str(current), f"pseudo set: {current} (the current set of this data dir); {pseudosets.HINT}"


def run(args: argparse.Namespace) -> int:
    from dl_cls.train.kfold import train

    train(spec_from_args(args), force_cpu=args.cpu)
    return 0


def resume_hint(args: argparse.Namespace) -> str:
    """What dl-cls says after Ctrl-C or SIGTERM: without --name or --resume the same command starts a new run."""
    if args.resume or args.name:
        return "re-run the same command to resume"
    return ("resume with dl-cls train --resume RUN, RUN being the run dir printed above (the same command again "
            "would start a new run)")
