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


def _number(text: str, convert, ok, expected: str):
    """Parse an argparse value with `convert` and keep it when `ok(value)`; else one line saying what was expected
    (NaN fails every comparison, so it is refused too)."""
    try:
        value = convert(text)
    except ValueError:
        value = None
    if value is None or not ok(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: a whole number of 1 or more (--workers 0 or -2 would start no worker)."""
    return _number(text, int, lambda v: v >= 1, "a whole number of 1 or more")


def fraction(text: str) -> float:
    """An argparse type: a share of something, above 0 and at most 1."""
    return _number(text, float, lambda v: 0 < v <= 1, "a number above 0 and at most 1")


def probability(text: str) -> float:
    """An argparse type: a probability, from 0 to 1."""
    return _number(text, float, lambda v: 0 <= v <= 1, "a number from 0 to 1")
