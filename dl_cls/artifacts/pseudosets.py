"""Pseudo-label sets: their schema, the checked read, and the current set per data dir (WORK/pseudo/current.json).

`dl-cls pseudo` writes WORK/pseudo/<name>/ (settings.json, images/, manifest.csv, complete.json, the made-by
marker); `dl-cls augment --pseudo` and `dl-cls train --pseudo` read it through this module. A pseudo set holds
copies of the chosen test images, so what was labelled is exactly what is trained on.

    manifest.csv  ID,target,source_id,copy,ops,prob,source   one row per chosen test image; source_id is
                  "pseudo:<test ID>" (dl_cls.data.folds: in no fold, so never on a validation side), prob the
                  source's probability of target, source the run or ensemble that labelled it

The pointer has the augment-set pointer's shape: {"format": 1, "sets": {"<resolved data dir>": {"dir": "<name>",
"round": 1, "source": "...", "written": "..."}}}; `dir` is relative to WORK/pseudo when the set lives there.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dl_cls.artifacts.augsets import manifest_problem, read_manifest
from dl_cls.core.errors import DlClsError
from dl_cls.core.io import atomic_write_text, data_key, recorded_data_dir
from dl_cls.core.lock import LOCK_NAME, Lock, is_held
from dl_cls.data.folds import PSEUDO_PREFIX

ROOT = "pseudo"
POINTER = "current.json"
SETTINGS = "settings.json"
KIND = "pseudo"  # the made-by marker's kind
MANIFEST_COLUMNS = ["ID", "target", "source_id", "copy", "ops", "prob", "source"]
HINT = "choose with --pseudo SET (make train PSEUDO=SET), or --pseudo none (PSEUDO=none)"


@dataclass
class PseudoSet:
    """A complete pseudo set: its dir, checked manifest and settings (source, round, threshold, per class)."""
    path: Path
    manifest: pd.DataFrame
    settings: dict

    @property
    def round(self) -> int:
        return int(self.settings.get("round", 1))

    @property
    def name(self) -> str:
        return self.path.name


def pointer_path(work) -> Path:
    return Path(work) / ROOT / POINTER


def read_pointer(work) -> dict:
    """The pointer's sets (data dir -> entry); {} when there is none; a damaged file is one error naming it."""
    path = pointer_path(work)
    if not path.is_file():
        return {}
    try:
        sets = json.loads(path.read_text(encoding="utf-8"))["sets"]
        if not isinstance(sets, dict) or not all(isinstance(e, dict) and isinstance(e.get("dir"), str)
                                                 for e in sets.values()):
            raise TypeError
    except (OSError, ValueError, KeyError, TypeError):
        raise DlClsError(f"{path}: unreadable pseudo-set pointer; delete it (the sets stay) and re-run "
                         f"`make pseudo`, or {HINT}") from None
    return sets


def record_current(work, data_root, set_dir, settings: dict) -> Path:
    """Make the complete set at set_dir the current pseudo set of data_root; returns the pointer path."""
    path = pointer_path(work)
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"dir": _stored(Path(set_dir), path.parent), "round": settings.get("round"),
             "source": settings.get("source"), "written": time.strftime("%Y-%m-%dT%H:%M:%S")}
    with Lock(path.parent, f"pseudo-set pointer {path}", name=".current.lock").acquire(wait_s=30):
        sets = read_pointer(work)
        sets[data_key(data_root)] = entry
        atomic_write_text(path, json.dumps({"format": 1, "sets": sets}, indent=2) + "\n")
    return path


def _stored(set_dir: Path, root: Path) -> str:
    try:
        return str(set_dir.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(set_dir.resolve())


def current_dir(work, data_root) -> Path | None:
    """The current pseudo set's dir of data_root (None when none was recorded); not checked here."""
    entry = read_pointer(work).get(data_key(data_root))
    return None if entry is None else Path(work) / ROOT / entry["dir"]


def resolve(value: str, work) -> Path:
    """--pseudo SET: a path to a set, or a name under WORK/pseudo."""
    path = Path(value)
    for candidate in (path, Path(work) / ROOT / value):
        if (candidate / SETTINGS).is_file():
            return candidate
    raise DlClsError(f"pseudo set {value!r} not found: no {SETTINGS} in {path} or {Path(work) / ROOT / value}; "
                     f"`make pseudo` makes one, or {HINT}")


def load(set_dir, data_root=None) -> PseudoSet:
    """A complete pseudo set, checked (manifest whole, not being written, made for data_root); else one error."""
    set_dir = Path(set_dir)
    what = f"pseudo set {set_dir}"
    if not set_dir.is_dir():
        raise DlClsError(f"{what} no longer exists; `make pseudo` makes one, or {HINT}")
    if is_held(set_dir / LOCK_NAME):
        raise DlClsError(f"{what} is still being written (`dl-cls pseudo` holds {set_dir / LOCK_NAME})")
    problem = manifest_problem(set_dir)
    if problem:
        raise DlClsError(f"{what} is not complete ({problem}); re-run the same `make pseudo` to finish it")
    settings = read_settings(set_dir)
    made_for = _made_for(set_dir, settings) if data_root is not None else None
    if data_root is not None and made_for != data_key(data_root):
        raise DlClsError(f"{what} labels the test images of {made_for}, not of {data_key(data_root)}; {HINT}")
    manifest = read_manifest(set_dir)
    missing = [c for c in MANIFEST_COLUMNS if c not in manifest.columns]
    bad = ~manifest.get("source_id", pd.Series(dtype=str)).astype(str).str.startswith(PSEUDO_PREFIX)
    if missing or bad.any():
        raise DlClsError(f"{set_dir / 'manifest.csv'}: " + (f"missing column(s) {', '.join(missing)}" if missing else
                         f"row {int(bad.to_numpy().argmax()) + 2}: source_id does not start with {PSEUDO_PREFIX}"))
    gone = missing_images(set_dir, manifest["ID"])
    if gone:
        raise DlClsError(f"{gone[0]} is missing ({len(gone)} of the {len(manifest)} images of {what}); re-run the "
                         f"same `make pseudo` (dl-cls pseudo) to copy it again, or {HINT}")
    return PseudoSet(set_dir, manifest, settings)


def missing_images(set_dir, ids) -> list[Path]:
    """The images of a set's manifest that its images/ lacks (deleted since: manifest.csv alone says nothing)."""
    return [p for p in (Path(set_dir) / "images" / str(i) for i in ids) if not p.is_file()]


def _made_for(set_dir: Path, settings: dict) -> str | None:
    """The data dir whose test images the set labels (WORK/pseudo/<name>/settings.json)."""
    recorded = settings.get("data_dir")
    return recorded_data_dir(str(recorded), set_dir.parent.parent, set_dir / SETTINGS) if recorded else None


def read_settings(set_dir) -> dict:
    path = Path(set_dir) / SETTINGS
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(settings, dict):
            raise TypeError
    except (OSError, ValueError, TypeError):
        raise DlClsError(f"{path}: missing or unreadable; it is not a pseudo set made by `dl-cls pseudo`") from None
    return settings


def in_aug_set(aug_dir) -> dict | None:
    """The pseudo set an augment set holds copies of (its settings.json `pseudo` record), None when it holds none."""
    try:
        record = json.loads((Path(aug_dir) / "settings.json").read_text(encoding="utf-8")).get("pseudo")
    except (OSError, ValueError, AttributeError):
        return None
    return record if isinstance(record, dict) else None


def aug_record(pseudo: PseudoSet) -> dict:
    """What an augment set records of the pseudo set it copied (compared on resume, read by the trainer)."""
    complete = json.loads((pseudo.path / "complete.json").read_text(encoding="utf-8"))
    return {"dir": str(pseudo.path.resolve()), "name": pseudo.name, "round": pseudo.round,
            "manifest_sha256": complete["manifest_sha256"], "images": len(pseudo.manifest)}
