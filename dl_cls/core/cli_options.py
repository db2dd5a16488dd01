"""Options several commands share, declared once so their names, defaults and help never drift apart."""
from __future__ import annotations

import argparse


def add_work(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--work", default="work", help="work dir with folds.csv, aug/, runs/, ensembles/ "
                        "(default: work)")


def add_data(parser: argparse.ArgumentParser, default: str | None = "data", help: str | None = None) -> None:
    parser.add_argument("--data", default=default, help=help or "competition data dir (default: data)")


def add_label_fixes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--label-fixes", default="default",
                        help="label fixes CSV, 'default' (configs/label_fixes.csv) or 'none'")


def positive_int(text: str) -> int:
    """An argparse type: a whole number of 1 or more (--workers 0 or -2 would start no worker)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}")
    return value


def fraction(text: str) -> float:
    """An argparse type: a share of something, above 0 and at most 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number above 0 and at most 1, got {text!r}") from None
    if not 0 < value <= 1:  # NaN fails too
        raise argparse.ArgumentTypeError(f"expected a number above 0 and at most 1, got {text!r}")
    return value


def probability(text: str) -> float:
    """An argparse type: a probability, from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}") from None
    if not 0 <= value <= 1:  # NaN fails too
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}")
    return value
