"""Write a pseudo set: the dir and its lock (the claim), settings.json (what it is), then a copy of each chosen test
image, then manifest.csv + complete.json, then the made-by marker. Resumable: a re-run with the same settings keeps
the images already copied whole (same size as their source) and copies the rest, also into a finished set whose
image was deleted since; a dir holding only the claim is taken up; other settings in the same dir are refused.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from dl_cls.artifacts.augsets import manifest_problem, write_manifest
from dl_cls.artifacts.pseudosets import KIND, MANIFEST_COLUMNS, SETTINGS, missing_images
from dl_cls.core.errors import DlClsError
from dl_cls.core.io import MADE_MARKER, atomic_write_bytes, atomic_write_text, mark_made
from dl_cls.core.lock import LOCK_NAME, Lock
from dl_cls.core.progress import Progress
from dl_cls.data.folds import PSEUDO_PREFIX

VOLATILE = ("written",)  # settings keys that may differ between a run and its resume


def _same(a: dict, b: dict) -> bool:
    return {k: v for k, v in a.items() if k not in VOLATILE} == {k: v for k, v in b.items() if k not in VOLATILE}


def _read_ours(out: Path) -> dict | None:
    """out's settings.json when `dl-cls pseudo` wrote it, else None."""
    try:
        old = json.loads((out / SETTINGS).read_text(encoding="utf-8"))
        return old if old.get("made_by") == "dl-cls pseudo" else None
    except (OSError, ValueError, AttributeError):
        return None


def _only_a_claim(out: Path) -> bool:
    """out holds no more than a writer killed before settings.json left: its lock file, a temp file of
    settings.json, an empty images/ (older versions made it first). Such a dir is resumed, not refused."""
    for entry in out.iterdir():
        empty_images = entry.name == "images" and entry.is_dir() and not any(entry.iterdir())
        if not (entry.name == LOCK_NAME or empty_images or entry.name.startswith(f".{SETTINGS}.")):
            return False
    return True


def _check_ours(out: Path) -> dict | None:
    """out's earlier settings (None: a dir just claimed); a dir `dl-cls pseudo` did not make is refused."""
    old = _read_ours(out)
    if old is None and out.exists() and not _only_a_claim(out):
        raise DlClsError(f"{out} exists and was not made by `dl-cls pseudo` (no readable {SETTINGS}); it is "
                         "never touched: pass --name for another set")
    return old


def prepare(out: Path, settings: dict) -> bool:
    """Under out's lock: write settings.json into a dir just claimed, or accept an earlier one of the same settings.
    True when that earlier set is complete (manifest whole, marker written; its images are checked apart)."""
    old = _check_ours(out)
    if old is None:
        for tmp in out.glob(f".{SETTINGS}.*.tmp"):  # of a writer killed while writing it
            tmp.unlink(missing_ok=True)
        atomic_write_text(out / SETTINGS, json.dumps(settings, indent=2) + "\n")
        (out / "images").mkdir(exist_ok=True)
        return False
    if not _same(old, settings):
        diff = sorted(k for k in set(old) | set(settings) if k not in VOLATILE and old.get(k) != settings.get(k))
        raise DlClsError(f"{out} was made with other settings ({', '.join(diff)} differ); it is never mixed into "
                         "or overwritten: pass --name for another set, or delete it yourself")
    return manifest_problem(out) is None and (out / MADE_MARKER).is_file()


def _whole(dst: Path, src: Path) -> bool:
    try:
        return dst.stat().st_size == src.stat().st_size
    except OSError:
        return False


def copy_images(chosen: pd.DataFrame, test_dir: Path, out: Path, progress: bool = True) -> int:
    """Copy each chosen test image into out/images (atomically); returns how many were copied now."""
    for tmp in (out / "images").glob(".*.tmp"):  # dl_cls.core.io's temp file of a copy that was killed
        tmp.unlink(missing_ok=True)
    new = 0
    with Progress(len(chosen), "pseudo images", unit="img", enabled=progress) as bar:
        for image_id in chosen["ID"]:
            src, dst = test_dir / image_id, out / "images" / image_id
            if not _whole(dst, src):
                atomic_write_bytes(dst, src.read_bytes())
                new += 1
            bar.update(1)
    return new


def manifest_of(chosen: pd.DataFrame, source_name: str) -> pd.DataFrame:
    return pd.DataFrame({"ID": chosen["ID"], "target": chosen["target"].astype(int),
                         "source_id": PSEUDO_PREFIX + chosen["ID"].astype(str), "copy": 0, "ops": "none",
                         "prob": chosen["prob"].round(6), "source": source_name})[MANIFEST_COLUMNS]


def write_set(out: Path, chosen: pd.DataFrame, test_dir: Path, settings: dict, progress: bool = True,
              log=print) -> None:
    """The whole set in out (see the module doc); a complete one with every image there is left as it is."""
    _check_ours(out)  # before the lock: a user's dir gets no lock file
    out.mkdir(parents=True, exist_ok=True)  # the claim; the lock says who holds it to a second writer
    with Lock(out, f"pseudo set {out}"):
        complete = prepare(out, settings)
        missing = missing_images(out, chosen["ID"])
        if complete and not missing:
            log(f"{out}: already complete ({len(chosen)} images), nothing to do")
            return
        new = copy_images(chosen, Path(test_dir), out, progress)
        if complete:
            log(f"{out}: {len(missing)} missing image{'s' if len(missing) > 1 else ''} made again "
                f"({', '.join(p.name for p in missing[:3])})")
        elif new < len(chosen):
            log(f"resumed: {len(chosen) - new} of {len(chosen)} images were already copied")
        write_manifest(manifest_of(chosen, settings["source_name"]), out)
    mark_made(out, KIND, {k: settings[k] for k in ("source", "round", "config")})
