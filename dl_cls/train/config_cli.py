"""`dl-cls config MODEL [key=value ...]`: the resolved training config and where each value came from."""
from __future__ import annotations

import argparse

import yaml

from dl_cls.core.config import CONFIG_DIR, parse_overrides


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="configs/models/NAME.yaml (e.g. tiny, swin_base) or a YAML path")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="overrides, as for dl-cls train")


def _short(source: str) -> str:
    """configs/... relative to the repo; 'default' is the TrainConfig dataclass."""
    prefix = str(CONFIG_DIR.parent) + "/"
    return source[len(prefix):] if source.startswith(prefix) else source


def run(args: argparse.Namespace) -> int:
    from dl_cls.train.config import compose_train_config, recipe_dict

    cfg, sources = compose_train_config(args.model, parse_overrides(args.overrides) or None)
    lines = {key: yaml.safe_dump({key: value}, default_flow_style=True, width=1000).strip()[1:-1]
             for key, value in recipe_dict(cfg).items()}  # one YAML line per key, pasteable into a file
    width = max(map(len, lines.values()))
    for key, line in lines.items():
        where = sources.get(key, "default")
        print(f"{line:<{width}}  # {'TrainConfig default' if where == 'default' else _short(where)}")
    return 0
