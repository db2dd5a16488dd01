"""Typed configs: YAML files under configs/ + `key=value` overrides -> dataclasses.

Each stage defines its own dataclass (nested dataclasses allowed) and loads it with `load_config`. Unknown keys are
an error listing the valid ones, so a typo in a YAML file or on the command line never silently does nothing.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from dl_cls.core.errors import DlClsError
from dl_cls.core.io import atomic_write_text, read_text

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"

T = TypeVar("T")


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """['a.b=1', 'c=[3,4]'] -> {'a': {'b': 1}, 'c': [3, 4]}; values are parsed as YAML scalars/lists."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise DlClsError(f"override {item!r} is not of the form key=value")
        try:
            value = yaml.safe_load(raw) if raw != "" else None
        except yaml.YAMLError as exc:
            raise DlClsError(f"override {item!r}: value is not valid YAML ({exc})") from None
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise DlClsError(f"override {item!r} conflicts with an earlier override of {part!r}")
        node[parts[-1]] = value
    return out


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _coerce(tp: Any, value: Any, where: str) -> Any:
    """Check/convert one value against a type hint (enough for the hints our configs use)."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, where)
            except DlClsError as exc:
                errors.append(str(exc))
        raise DlClsError(errors[0] if errors else f"{where}: bad value {value!r}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise DlClsError(f"{where}: expected a mapping, got {value!r}")
        return _build(tp, value, where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise DlClsError(f"{where}: expected a list, got {value!r}")
        (item_tp, *_) = typing.get_args(tp) or (Any,)
        return [_coerce(item_tp, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise DlClsError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is float and isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return _finite(value, where)
    if tp is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if tp in (int, float, str, bool) and not (isinstance(value, tp) and not (tp is int and isinstance(value, bool))):
        raise DlClsError(f"{where}: expected {tp.__name__}, got {value!r}")
    return value


def _finite(value, where: str) -> float:
    """A float key's value as a finite float. YAML 1.1 reads "3e-4" (no dot) as a string: any number Python can
    parse is accepted, but not NaN or inf: NaN passes every `x <= 0` check and crashes the work later."""
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise DlClsError(f"{where}: expected float, got {value!r}") from None
    if not math.isfinite(number):
        raise DlClsError(f"{where}: expected a finite number, got {number}")
    return number


def _build(cls: type[T], data: dict, where: str) -> T:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        at = f"{where}: " if where else ""
        raise DlClsError(f"{at}unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(fields)}")
    kwargs = {name: _coerce(hints[name], value, f"{where}.{name}" if where else name) for name, value in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required field is missing
        raise DlClsError(f"{where or cls.__name__}: {exc}") from None


def read_yaml(path: str | Path, missing: str = "file not found"):
    """The YAML document of a file a user can point at (read and decoded by io.read_text); every problem is one
    DlClsError naming the file."""
    try:
        return yaml.safe_load(read_text(path, missing))
    except yaml.YAMLError as exc:
        raise DlClsError(f"{path}: not valid YAML: {exc}") from None


def read_yaml_mapping(path: str | Path) -> dict:
    """A YAML file whose top level is a mapping (empty file: {}); every problem names the file."""
    data = read_yaml(path, "config file not found") or {}
    if not isinstance(data, dict):
        raise DlClsError(f"{path}: expected a mapping at the top level")
    return data


def load_config(cls: type[T], path: str | Path | None = None, overrides: list[str] | dict | None = None) -> T:
    """Build `cls` from the YAML file at `path` (optional) with overrides applied on top."""
    return compose_config(cls, [path] if path is not None else [], overrides)[0]


def compose_config(cls: type[T], layers: list, overrides: list[str] | dict | None = None) -> tuple[T, dict[str, str]]:
    """Build `cls` from YAML files layered in order (a later file wins, key by key) and overrides on top, in the
    spirit of hydra's config groups. Returns the config and where each top-level key's value came from
    ("default" = the dataclass). A typo in any file is an error naming that file and the key; with files, a value
    the dataclass's `problems()` finds wrong is blamed on its file or on the key=value override (check_values)."""
    data: dict = {}
    sources = {f.name: "default" for f in dataclasses.fields(cls)}
    for path in layers:
        layer = read_yaml_mapping(path)
        try:
            _build(cls, layer, "")  # checks this file's keys and types on their own
        except DlClsError as exc:
            raise DlClsError(f"{path}: {exc}") from None
        data = _merge(data, layer)
        sources.update({key: str(path) for key in layer})
    if overrides:
        extra = overrides if isinstance(overrides, dict) else parse_overrides(overrides)
        if layers:  # a bad key=value on top of the files is blamed on it, not on the last file
            try:
                _build(cls, extra, "")
            except DlClsError as exc:
                raise DlClsError(f"key=value override {exc}") from None
        data = _merge(data, extra)
        sources.update({key: "override" for key in extra})
    where = str(layers[-1]) if layers else ""
    try:
        cfg = _build(cls, data, "")
    except DlClsError as exc:
        raise DlClsError(f"{where + ': ' if where else ''}{exc}") from None
    if layers:  # without files the mapping is a saved config (a run's config.yaml), checked when it was made
        check_values(cfg, sources)
    return cfg, sources


def check_values(cfg, sources: dict[str, str]) -> None:
    """Refuse what `cfg.problems()` lists (a config dataclass may define it: messages that each start with the key
    they are about, e.g. "min_oof 0 must be >= 1"), each blamed on where that key's value came from: the key=value
    override as typed ("min_oof=0 (command line)") or the YAML file, so a user mends the right one."""
    problems = cfg.problems() if hasattr(cfg, "problems") else []
    if problems:
        raise DlClsError("; ".join(f"{_origin(cfg, msg.split(' ', 1)[0], sources)}: {msg}" for msg in problems))


def _origin(cfg, key: str, sources: dict[str, str]) -> str:
    where = sources.get(key.split(".")[0], "default")
    if where == "override":
        value = cfg
        for part in key.split("."):
            value = getattr(value, part, None)
        return f"{key}={yaml.safe_dump(value, default_flow_style=True, width=1000).splitlines()[0]} (command line)"
    return f"{type(cfg).__name__} default" if where == "default" else where


def config_to_dict(obj: Any) -> dict:
    return dataclasses.asdict(obj)


def save_config(obj: Any, path: str | Path) -> None:
    data = config_to_dict(obj) if dataclasses.is_dataclass(obj) else obj
    atomic_write_text(path, yaml.safe_dump(data, sort_keys=False))
