"""Write a pseudo set: settings.json first (what it is), then a copy of each chosen test image, then manifest.csv +
complete.json, then the made-by marker. Resumable: a re-run with the same settings keeps the images already
copied whole (same size as their source) and copies the rest; other settings in the same dir are refused.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from dl_cls.artifacts.augsets import manifest_problem, write_manifest
from dl_cls.artifacts.pseudosets import KIND, MANIFEST_COLUMNS, SETTINGS
from dl_cls.core.errors import DlClsError
from dl_cls.core.io import MADE_MARKER, atomic_write_bytes, atomic_write_text, mark_made
from dl_cls.core.lock import Lock
from dl_cls.core.progress import Progress
from dl_cls.data.folds import PSEUDO_PREFIX

VOLATILE = ("written",)  # settings keys that may differ between a run and its resume


def _same(a: dict, b: dict) -> bool:
    return {k: v for k, v in a.items() if k not in VOLATILE} == {k: v for k, v in b.items() if k not in VOLATILE}


def prepare(out: Path, settings: dict) -> bool:
    """Create out/ with settings.json, or accept an earlier one of the same settings. True when already complete."""
    sfile = out / SETTINGS
    if out.exists():
        try:
            old = json.loads(sfile.read_text(encoding="utf-8"))
            ours = old.get("made_by") == "dl-cls pseudo"
        except (OSError, ValueError, AttributeError):
            old, ours = None, False
        if not ours:
            raise DlClsError(f"{out} exists and was not made by `dl-cls pseudo` (no readable {SETTINGS}); it is "
                             "never touched: pass --name or --out for another dir")
        if not _same(old, settings):
            diff = sorted(k for k in set(old) | set(settings) if k not in VOLATILE and old.get(k) != settings.get(k))
            raise DlClsError(f"{out} was made with other settings ({', '.join(diff)} differ); it is never mixed into "
                             "or overwritten: pass --name for another set, or delete it yourself")
        return manifest_problem(out) is None and (out / MADE_MARKER).is_file()
    (out / "images").mkdir(parents=True)
    atomic_write_text(sfile, json.dumps(settings, indent=2) + "\n")
    return False


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
    """The whole set in out (see the module doc); an already complete one is left as it is."""
    if prepare(out, settings):
        log(f"{out}: already complete ({len(chosen)} images), nothing to do")
        return
    with Lock(out, f"pseudo set {out}"):
        new = copy_images(chosen, Path(test_dir), out, progress)
        if new < len(chosen):
            log(f"resumed: {len(chosen) - new} of {len(chosen)} images were already copied")
        write_manifest(manifest_of(chosen, settings["source_name"]), out)
    mark_made(out, KIND, {k: settings[k] for k in ("source", "round", "config")})
