"""Augmentation presets: configs/augment/<name>.yaml (or a path to any YAML file).

    description: one line
    budget_ms: 2000            # per-op time budget (wall time; an op over it has its result discarded)
    ops:                       # applied in this order, each independently with probability p
      - op: rotate             # albu.<Transform> | augraphy.<Effect> | one of dl_cls.augment.fastops.OPS
        name: rotate_any       # optional label for the manifest and summary (default: the op's short name)
        p: 0.5
        params: {angle: [-180, 180], dark_p: 0.3}
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

from dl_cls.augment.ops import Op, param_problems
from dl_cls.core.config import CONFIG_DIR, read_yaml
from dl_cls.core.errors import DlClsError

PRESET_DIR = CONFIG_DIR / "augment"
_TOP_KEYS = {"description", "budget_ms", "ops"}
_OP_KEYS = {"op", "name", "p", "params"}


@dataclass
class Preset:
    name: str
    path: Path
    description: str
    budget_ms: float
    ops: list[Op]
    sha256: str  # of the YAML file's bytes: a changed preset is another augmentation set

    def build(self) -> "Preset":
        """Construct every op (imports albumentations/augraphy); errors name the preset file and the op."""
        for i, op in enumerate(self.ops):
            try:
                op.build()
            except DlClsError as exc:
                raise DlClsError(f"{self.path}: ops[{i}]: {exc}") from None
            except Exception as exc:
                raise DlClsError(f"{self.path}: ops[{i}] ({op.name}, {op.op}): bad params {op.params}: "
                                 f"{type(exc).__name__}: {exc}") from None
        return self


def available_presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def preset_path(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") and p.is_file():
        return p
    cand = PRESET_DIR / f"{name_or_path}.yaml"
    if cand.is_file():
        return cand
    raise DlClsError(f"unknown augmentation preset {name_or_path!r}; available: {', '.join(available_presets())} "
                     f"(or give a path to a YAML file)")


def load_preset(name_or_path: str, build: bool = True) -> Preset:
    """The preset, its keys, ops and every op's param names checked (even with build=False); build=True also
    constructs the ops."""
    path = preset_path(name_or_path)
    doc = read_yaml(path) or {}
    raw = path.read_bytes()  # the preset's hash is over its bytes, as augment sets record it
    problems = []
    if not isinstance(doc, dict):
        raise DlClsError(f"{path}: expected a mapping with keys {sorted(_TOP_KEYS)}")
    if set(doc) - _TOP_KEYS:
        problems.append(f"unknown key(s) {sorted(set(doc) - _TOP_KEYS)}; valid: {sorted(_TOP_KEYS)}")
    ops_raw = doc.get("ops") or []
    if not isinstance(ops_raw, list) or not ops_raw:
        problems.append("'ops' must be a non-empty list")
        ops_raw = []
    ops = _parse_ops(ops_raw, problems)
    budget = doc.get("budget_ms", 2000)
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not 0 < budget < math.inf:  # NaN too
        problems.append(f"budget_ms must be a positive number, got {budget!r}")
    if problems:
        raise DlClsError(f"{path}: bad preset:\n" + "\n".join(f"  - {p}" for p in problems))
    _check_params(path, ops)
    preset = Preset(name=path.stem, path=path, description=str(doc.get("description", "")),
                    budget_ms=float(budget), ops=ops, sha256=hashlib.sha256(raw).hexdigest()[:16])
    return preset.build() if build else preset


def _parse_ops(ops_raw: list, problems: list[str]) -> list[Op]:
    """The preset's `ops:` entries as Ops; what is wrong with their keys goes to `problems`."""
    ops, names = [], set()
    for i, entry in enumerate(ops_raw):
        if not isinstance(entry, dict) or "op" not in entry:
            problems.append(f"ops[{i}]: expected a mapping with an 'op' key")
            continue
        extra = set(entry) - _OP_KEYS
        if extra:
            problems.append(f"ops[{i}]: unknown key(s) {sorted(extra)}; valid: {sorted(_OP_KEYS)}")
        name = str(entry.get("name") or str(entry["op"]).rpartition(".")[2])
        if name in names:
            problems.append(f"ops[{i}]: duplicate name {name!r} (give one a 'name:')")
        names.add(name)
        try:
            p = float(entry.get("p", 1.0))
        except (TypeError, ValueError):
            p = -1.0
        if not 0.0 <= p <= 1.0:
            problems.append(f"ops[{i}] ({name}): p must be a number in [0, 1], got {entry.get('p')!r}")
        params = entry.get("params") or {}
        if not isinstance(params, dict):
            problems.append(f"ops[{i}] ({name}): params must be a mapping")
            params = {}
        ops.append(Op(name=name, op=str(entry["op"]), p=p, params=params))
    return ops


def _check_params(path: Path, ops: list[Op]) -> None:
    """Every op exists and takes the params given (ops.param_problems); one error naming each bad entry."""
    lines = []
    for i, op in enumerate(ops):
        try:
            lines += [f"{path}: ops[{i}] ({op.name}): {why}" for why in param_problems(op.op, op.params, op.name)]
        except DlClsError as exc:
            lines.append(f"{path}: ops[{i}]: {exc}")
    if lines:
        raise DlClsError("\n".join(lines))


def format_preset(preset: Preset) -> str:
    lines = [f"preset {preset.name} ({preset.path}): {preset.description}",
             f"per-op time budget: {preset.budget_ms:g} ms; ops run in this order, each with probability p", ""]
    width = max(len(op.name) for op in preset.ops)
    for op in preset.ops:
        params = ", ".join(f"{k}={v}" for k, v in op.params.items())
        lines.append(f"  {op.name:<{width}}  p={op.p:<5g} {op.op}({params})")
    return "\n".join(lines)
