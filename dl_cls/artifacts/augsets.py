"""The work dir's current augment set per data dir: a small pointer file, WORK/aug/current.json.

`dl-cls augment` records a set here once it is complete (manifest.csv written); `dl-cls train` without --aug
trains on the current set of its data dir. A pointer, not a symlink: it survives copies and archives, and it
carries what is needed to refuse a wrong set (the train table it was made from, the set's own path).

    {"format": 1, "sets": {"<resolved data dir>": {"aug_dir": "doc_x10_s0", "train_sha256": "...",
                                                   "scale": 10, "preset": "doc", "written": "..."}}}

`aug_dir` is relative to WORK/aug when the set lives there (so a copied work dir still points inside itself).
An augment set does not depend on the folds (the trainer maps copies to folds through source_id), so no folds
hash is kept: any folds.csv over the same train table is fine.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from dl_cls.core.errors import DlClsError
from dl_cls.core.io import atomic_write_text, data_key, read_csv
from dl_cls.core.lock import LOCK_NAME, Lock, is_held
from dl_cls.data.folds import train_table_hash

POINTER = "current.json"
MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = ["ID", "target", "source_id", "copy", "ops"]  # one row per augmented image
COMPLETE = "complete.json"  # written after manifest.csv: its row count and hash, so a cut manifest is caught
CHOOSE_HINT = "choose with --aug DIR (make train AUG=DIR), or --aug none (AUG=none) for the originals with online " \
              "augmentation"


@dataclass
class Choice:
    """What train should use: aug_dir None means the originals with online augmentation."""
    aug_dir: Path | None
    message: str


def pointer_path(work) -> Path:
    return Path(work) / "aug" / POINTER


def read_pointer(work) -> dict:
    """The pointer file's sets (data dir -> entry); {} when there is none. A damaged file is an error naming it."""
    path = pointer_path(work)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        sets = data["sets"]
        if not isinstance(sets, dict):
            raise TypeError
    except (OSError, ValueError, KeyError, TypeError):
        raise DlClsError(f"{path}: unreadable augment-set pointer; delete it (the sets stay) and re-run "
                         "`make augment`, or pass --aug DIR / --aug none") from None
    for key, entry in sets.items():  # a damaged entry is named, not a KeyError later
        if not isinstance(entry, dict) or not isinstance(entry.get("aug_dir"), str):
            raise DlClsError(f"{path}: the entry for {key} is {json.dumps(entry)[:60]}, not a set record with an "
                             "aug_dir; delete that entry or the file (the sets stay) and re-run `make augment`, or "
                             "pass --aug DIR / --aug none")
    return sets


def record_current(work, data_root, aug_dir, train, settings: dict | None = None) -> Path:
    """Make aug_dir (complete: manifest.csv written) the current set of data_root. Returns the pointer path."""
    aug_dir = Path(aug_dir)
    if not (aug_dir / MANIFEST).is_file():
        raise DlClsError(f"{aug_dir}: no {MANIFEST}; only a complete augment set is recorded as current")
    path = pointer_path(work)
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"aug_dir": _stored_path(aug_dir, path.parent), "train_sha256": train_table_hash(train),
             "written": time.strftime("%Y-%m-%dT%H:%M:%S")}
    for key in ("preset", "scale", "seed", "size"):
        if settings and key in settings:
            entry[key] = settings[key]
    with Lock(path.parent, f"augment-set pointer {path}", name=".current.lock").acquire(wait_s=30):
        sets = read_pointer(work)  # read-modify-write under the lock: two augment runs may finish together
        sets[data_key(data_root)] = entry
        atomic_write_text(path, json.dumps({"format": 1, "sets": sets}, indent=2) + "\n")
    return path


def write_manifest(manifest, aug_dir) -> Path:
    """manifest.csv, then complete.json with its row count and hash: the set is complete from here on."""
    aug_dir = Path(aug_dir)
    text = manifest.to_csv(index=False)
    atomic_write_text(aug_dir / MANIFEST, text)
    record = {"manifest_rows": len(manifest), "manifest_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}
    atomic_write_text(aug_dir / COMPLETE, json.dumps(record, indent=2) + "\n")
    return aug_dir / MANIFEST


def manifest_problem(aug_dir) -> str | None:
    """Why aug_dir's manifest.csv is not the whole one `dl-cls augment` finished (None when it is): a manifest
    cut at a line boundary still parses, so rows and bytes are checked against complete.json."""
    aug_dir = Path(aug_dir)
    path, record_path = aug_dir / MANIFEST, aug_dir / COMPLETE
    if not path.is_file():
        return f"no {MANIFEST} (not complete)"
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        rows, digest = int(record["manifest_rows"]), str(record["manifest_sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return f"{record_path} is missing or damaged (the set was never finished, or made by an older dl_cls)"
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != digest:
        lines = max(0, data.count(b"\n") - 1)
        if lines == rows:
            return f"{path} was edited since it was written (its {rows} rows are all there; its hash differs)"
        return f"{path} has {lines} rows but {rows} were written (cut or edited since; its hash differs)"
    return None


def read_manifest(aug_dir):
    """The manifest of a complete set, checked whole against complete.json; otherwise one error saying what to do."""
    problem = manifest_problem(aug_dir)
    if problem:
        raise DlClsError(f"augment set {aug_dir}: {problem}; re-run the same `make augment` (dl-cls augment) to "
                         "check the images and write the manifest again")
    return read_csv(Path(aug_dir) / MANIFEST, dtype={"ID": str, "source_id": str})


def _stored_path(aug_dir: Path, aug_root: Path) -> str:
    try:
        return str(aug_dir.resolve().relative_to(aug_root.resolve()))
    except ValueError:
        return str(aug_dir.resolve())


def _entry_dir(entry: dict, work) -> Path:
    return Path(work) / "aug" / entry["aug_dir"]  # an absolute aug_dir stays absolute


def set_problem(aug_dir: Path, entry: dict, train) -> str | None:
    """Why this recorded set must not be trained on now, or None when it is usable."""
    if not aug_dir.is_dir():
        return f"it no longer exists ({aug_dir})"
    if is_held(aug_dir / LOCK_NAME):
        return f"it is still being written (`dl-cls augment` holds {aug_dir / LOCK_NAME})"
    problem = manifest_problem(aug_dir)
    if problem:
        return f"it is not complete ({problem}; re-run the same `make augment` to finish it)"
    if entry.get("train_sha256") != train_table_hash(train):
        return ("it was made from another train table (train.csv or the label fixes changed since); "
                "re-run `make augment` to make a set for this data")
    return None


def current_set(work, dd) -> Choice:
    """The current augment set of dd's data dir, checked; or the originals when none was recorded for it.
    A recorded set that is stale or still being written is refused (DlClsError), never silently replaced."""
    sets = read_pointer(work)
    key = data_key(dd.root)
    entry = sets.get(key)
    if entry is None:
        others = ", ".join(f"{e.get('aug_dir')} (for {d})" for d, e in sets.items())
        why = f"no augment set recorded for {key} in {pointer_path(work)}" + (f"; sets of other data: {others}"
                                                                              if others else "")
        return Choice(None, f"augment set: none ({why}); training on the originals with online augmentation. "
                            f"`make augment SCALE=10` makes one; {CHOOSE_HINT}")
    aug_dir = _entry_dir(entry, work)
    problem = set_problem(aug_dir, entry, dd.train)
    if problem:
        raise DlClsError(f"the current augment set {aug_dir} of {key} is not used: {problem}; or {CHOOSE_HINT}")
    return Choice(aug_dir, f"augment set: {aug_dir} (the current set of {key}, made {entry.get('written', '?')}); "
                           f"{CHOOSE_HINT}")


def aug_scale(aug_dir) -> int | None:
    """The scale an augment set was made with (its settings.json), None when unknown."""
    try:
        return int(json.loads((Path(aug_dir) / "settings.json").read_text(encoding="utf-8"))["scale"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
