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
