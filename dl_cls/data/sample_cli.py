"""`dl-cls sample OUT`: generate the embedded sample dataset (competition format + test_labels.csv)."""
from __future__ import annotations

import time

from dl_cls.data.sample import CLASS_NAMES, SIZE, generate_sample


def add_arguments(parser) -> None:
    parser.add_argument("out", help="output data dir (must not exist or be empty, unless --force)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-per-class", type=int, default=24)
    parser.add_argument("--test-per-class", type=int, default=12)
    parser.add_argument("--size", type=int, default=SIZE, help=f"long side in pixels (default {SIZE})")
    parser.add_argument("--force", action="store_true", help="replace an earlier sample dataset in OUT")


def run(args) -> int:
    start = time.perf_counter()
    out = generate_sample(args.out, seed=args.seed, train_per_class=args.train_per_class,
                          test_per_class=args.test_per_class, size=args.size, force=args.force)
    k = len(CLASS_NAMES)
    print(f"{out}: {k} classes, {k * args.train_per_class} train + {k * args.test_per_class} test images "
          f"(long side {args.size}px), test_labels.csv, contact_sheet.png in {time.perf_counter() - start:.1f}s")
    return 0
