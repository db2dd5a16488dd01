"""The offline augmentation run: plan, output dir + settings, parallel generation, resume, manifest, summary.

Counting rule (per class c with n_c train images, oversample factor f_c, default 1, scale S):
- default: every image gets S*f_c outputs: copy 0 is the original (resized only), copies 1..S*f_c-1 augmented;
  class total = S * f_c * n_c.
- --balance: class total T_c = S * f_c * max_c'(n_c'), the same for every class that is not oversampled; each
  image of c gets floor(T_c / n_c) outputs and the first (T_c mod n_c) images in train.csv order one more.

Resume: the worker writes each image atomically (temp file + rename), then the main process appends its record
(ops applied, op timings/failures) as one line to journal.jsonl and flushes it. An image counts as complete
when it has a journal line and its file exists; anything else is made again, which gives the same bytes
(randomness comes from (seed, source_id, copy) only). A kill -9 can at worst leave an image without a journal
line (made again) or a torn last line (dropped). manifest.csv is written atomically once every image is done.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dl_cls.augment.ops import OpStats
from dl_cls.augment.preset import Preset
from dl_cls.augment.worker import THREAD_ENV, WorkerState, init_worker, work
from dl_cls.artifacts.augsets import COMPLETE, MANIFEST, MANIFEST_COLUMNS, write_manifest
from dl_cls.data.folds import PSEUDO_PREFIX
from dl_cls.artifacts.pseudosets import aug_record
from dl_cls.core.errors import DlClsError, human_bytes
from dl_cls.core.lock import Lock, is_held
from dl_cls.core.procs import worker_env, worker_pool
from dl_cls.core.progress import Progress  # a bar in a terminal, a few lines in a log
from dl_cls.core.io import atomic_write_text

DEFAULT_SIZE = 512
SETTINGS = "settings.json"
JOURNAL = "journal.jsonl"


@dataclass
class AugSettings:
    preset: str
    scale: int
    seed: int = 0
    size: int = DEFAULT_SIZE
    balance: bool = False
    oversample: dict = field(default_factory=dict)  # target -> factor
    pseudo: object = None  # a dl_cls.artifacts.pseudosets.PseudoSet whose images get `scale` outputs each, or None

    def dir_name(self, preset_name: str) -> str:
        name = f"{preset_name}_x{self.scale}_s{self.seed}"
        if self.balance:
            name += "_bal"
        if self.oversample:
            name += "_os" + "-".join(f"{c}-{f}" for c, f in sorted(self.oversample.items()))
        if self.size != DEFAULT_SIZE:
            name += f"_L{self.size}"
        if self.pseudo is not None:
            name += f"_pseudo-{self.pseudo.name}"
        return name


def parse_oversample(text: str | None) -> dict[int, int]:
    """'3=2,4=2' -> {3: 2, 4: 2}."""
    out: dict[int, int] = {}
    if not text:
        return out
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        c, sep, f = part.partition("=")
        try:
            c_i, f_i = int(c), int(f)
        except ValueError:
            c_i, f_i = None, None
        if not sep or c_i is None or f_i < 1:
            raise DlClsError(f"--oversample: bad item {part!r}; expected CLASS=FACTOR with integers, FACTOR >= 1, "
                             "e.g. 3=2,4=2")
        out[c_i] = f_i
    return out


def plan_copies(train: pd.DataFrame, scale: int, balance: bool = False, oversample: dict | None = None,
                num_classes: int | None = None) -> pd.DataFrame:
    """ID,target,copies: how many outputs each train image gets (see the module docstring for the rule)."""
    if scale < 1:
        raise DlClsError(f"--scale must be >= 1 (1 = the originals, resized), got {scale}")
    oversample = oversample or {}
    known = set(range(num_classes)) if num_classes is not None else set(train["target"])
    unknown = sorted(set(oversample) - known)
    if unknown:
        raise DlClsError(f"--oversample names class(es) {unknown} that are not classes of this data "
                         f"(targets 0..{max(known)})")
    counts = train["target"].value_counts()
    biggest = int(counts.max())
    per_image = []
    rank = train.groupby("target").cumcount()
    for target, r in zip(train["target"], rank):
        f = oversample.get(int(target), 1)
        n = int(counts[target])
        if balance:
            total = scale * f * biggest
            k = total // n + (1 if r < total % n else 0)
        else:
            k = scale * f
        per_image.append(max(1, int(k)))
    return pd.DataFrame({"ID": train["ID"].values, "target": train["target"].values, "copies": per_image})


def plan_jobs(copies: pd.DataFrame) -> pd.DataFrame:
    """ID,target,source_id,copy for every output image, sorted by (source_id, copy): the manifest's order."""
    stems = copies["ID"].map(lambda s: Path(s).stem)
    dup = stems[stems.duplicated(keep=False)]
    if len(dup):
        ids = copies.loc[dup.index, "ID"].tolist()[:6]
        raise DlClsError(f"train IDs whose names differ only in the suffix would share output names: {ids}")
    width = max(3, len(str(int(copies["copies"].max()) - 1)))
    rows = []
    for sid, target, k, stem in zip(copies["ID"], copies["target"], copies["copies"], stems):
        for c in range(int(k)):
            rows.append((f"{stem}_c{c:0{width}d}.jpg", int(target), sid, c))
    jobs = pd.DataFrame(rows, columns=["ID", "target", "source_id", "copy"])
    return jobs.sort_values(["source_id", "copy"], kind="stable").reset_index(drop=True)


def pseudo_jobs(pseudo, scale: int, train_jobs: pd.DataFrame) -> pd.DataFrame:
    """`scale` outputs of each pseudo-labelled test image (copy 0 resized only), named pseudo-<stem>_c<copy>;
    their source_id keeps the pseudo prefix, so the trainer puts them in no fold (never on a validation side)."""
    m = pseudo.manifest
    copies = pd.DataFrame({"ID": m["ID"], "target": m["target"], "copies": scale})
    jobs = plan_jobs(copies)
    jobs["ID"] = "pseudo-" + jobs["ID"]
    jobs["source_id"] = PSEUDO_PREFIX + jobs["source_id"]
    clash = sorted(set(jobs["ID"]) & set(train_jobs["ID"]))
    if clash:
        raise DlClsError(f"pseudo copies would overwrite train copies of the same name: {clash[:3]}")
    return jobs


def _versions() -> dict:
    from importlib.metadata import version

    out = {}
    for pkg in ("albumentations", "augraphy", "opencv-python-headless", "numpy"):
        try:
            out[pkg] = version(pkg)
        except Exception:
            out[pkg] = None
    return out


def sources_hash(train_dir: Path, ids) -> str:
    """One fingerprint of the bytes of every source image (a few seconds for a competition's train set)."""
    total = hashlib.sha256()
    for image_id in ids:
        with open(Path(train_dir) / image_id, "rb") as fh:
            total.update(image_id.encode() + b"\0" + hashlib.file_digest(fh, "sha256").digest())
    return total.hexdigest()[:16]


def settings_dict(settings: AugSettings, preset: Preset, train: pd.DataFrame, train_dir: Path) -> dict:
    from dl_cls.data.folds import train_table_hash

    return {
        "format": 1,
        "preset": preset.name,
        "preset_sha256": preset.sha256,
        "scale": settings.scale,
        "seed": settings.seed,
        "size": settings.size,
        "balance": settings.balance,
        "oversample": {str(k): v for k, v in sorted(settings.oversample.items())},
        "train_sha256": train_table_hash(train),
        "sources_sha256": sources_hash(train_dir, train["ID"]),  # a changed train image makes this set stale
        "n_train": int(len(train)),
        **({"pseudo": aug_record(settings.pseudo)} if settings.pseudo is not None else {}),
        "versions": _versions(),  # other library versions give other bytes: never mix them into one set
    }


def prepare_out_dir(out: Path, settings: dict) -> None:
    """Create out/ with settings.json, or accept an existing one made with exactly these settings."""
    sfile = out / SETTINGS
    if out.exists():
        if sfile.is_file():
            try:
                old = json.loads(sfile.read_text())
            except ValueError:
                raise DlClsError(f"{sfile}: unreadable settings file; delete {out} yourself to start over") from None
            old_cmp = {k: v for k, v in old.items() if k != "data"}
            new_cmp = {k: v for k, v in settings.items() if k != "data"}
            changed = {k for k in set(old_cmp) | set(new_cmp) if old_cmp.get(k) != new_cmp.get(k)}
            if changed == {"sources_sha256"} and _clear_unfinished(out):
                atomic_write_text(sfile, json.dumps(settings, indent=2) + "\n")
                return
            if old_cmp != new_cmp:
                diff = [f"{k}: existing {old_cmp.get(k)!r} vs now {new_cmp.get(k)!r}"
                        + (" (train images changed since this set was made)" if k == "sources_sha256" else "")
                        for k in sorted(set(old_cmp) | set(new_cmp)) if old_cmp.get(k) != new_cmp.get(k)]
                raise DlClsError(
                    f"{out} was made with other settings; it is never mixed into or overwritten:\n  "
                    + "\n  ".join(diff)
                    + f"\nhint: pass --out to write elsewhere, change --seed, or delete {out} yourself")
            return
        leftovers = [p for p in out.iterdir() if not (p.name == "images" and p.is_dir() and not any(p.iterdir()))]
        if leftovers:
            raise DlClsError(f"{out} exists but was not made by `dl-cls augment` (no {SETTINGS}); "
                             "pass --out to write elsewhere or delete it yourself")
    (out / "images").mkdir(parents=True, exist_ok=True)
    atomic_write_text(sfile, json.dumps(settings, indent=2) + "\n")


def _clear_unfinished(out: Path) -> bool:
    """A set this command started and never finished (no manifest) whose only difference is its source images (a
    corrupt train image stopped it and was replaced): dl_cls's own half-made work, so it is started again. Only
    the images its journal lists are deleted; anything else in it keeps the set (False: the caller refuses)."""
    if (out / MANIFEST).exists() or (out / COMPLETE).exists() or is_held(out / ".lock"):
        return False  # finished once, or a writer is at it: never replaced
    if {p.name for p in out.iterdir()} - {SETTINGS, JOURNAL, "images", ".lock"}:
        return False
    listed = set()
    if (out / JOURNAL).is_file():
        for line in (out / JOURNAL).read_text(errors="replace").splitlines():
            with suppress(ValueError, TypeError, AttributeError):
                listed.add(json.loads(line).get("ID"))
    images = list((out / "images").iterdir()) if (out / "images").is_dir() else []
    if any(p.name not in listed and not p.name.endswith(".tmp") for p in images):
        return False
    for path in images:
        path.unlink()
    (out / JOURNAL).unlink(missing_ok=True)
    logging.getLogger(__name__).warning("%s: never finished and its train images changed since it was started: "
                                        "started again (%d images it had made deleted)", out, len(images))
    return True


def read_journal(out: Path, jobs: pd.DataFrame) -> dict[str, dict]:
    """Complete images: journal lines (torn or stray lines dropped) whose image file exists."""
    path = out / JOURNAL
    planned = set(jobs["ID"])
    done: dict[str, dict] = {}
    if path.is_file():
        for line in path.read_text(errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and rec.get("ID") in planned and _complete(out / "images" / rec["ID"], rec):
                done[rec["ID"]] = rec
    return done


def _complete(path: Path, rec: dict) -> bool:
    """The image exists with the size the journal recorded, and a JPEG ends with its end-of-image marker: a
    truncated or damaged output is made again."""
    try:
        size = path.stat().st_size
        if "bytes" in rec and size != rec["bytes"]:
            return False
        if path.suffix.lower() in (".jpg", ".jpeg"):
            with open(path, "rb") as fh:
                fh.seek(max(0, size - 2))
                return fh.read(2) == b"\xff\xd9"
        return size > 0
    except OSError:
        return False


def _clean_temp_files(images: Path) -> int:
    n = 0
    for p in images.glob(".*.tmp"):  # dl_cls.core.io's temp files from a write that was killed
        p.unlink(missing_ok=True)
        n += 1
    return n


def _run_jobs(todo: list[tuple], state: WorkerState, workers: int, on_result) -> None:
    if workers <= 1 or len(todo) <= 1:
        import cv2

        n_cv = cv2.getNumThreads()
        try:
            init_worker(state, set_env=False)
            for job in todo:
                on_result(work(job))
        finally:
            cv2.setNumThreads(n_cv)
        return
    # chunks keep a source's copies on one worker; the workers die with this process (dl_cls.core.procs)
    chunk = max(1, min(16, len(todo) // (workers * 8) or 1))
    # spawned workers inherit the environment at start: their thread pools pinned before numpy/numba load
    with worker_env({k: "1" for k in THREAD_ENV}), worker_pool(workers, init_worker, (state,)) as pool:
        for rec in pool.imap_unordered(work, todo, chunksize=chunk):
            on_result(rec)


def summarize(records: list[dict]) -> dict[str, OpStats]:
    stats: dict[str, OpStats] = {}
    for rec in records:
        for name, status, ms in rec.get("records", []):
            s = stats.setdefault(name, OpStats())
            s.total_ms += ms
            if status == "ok":
                s.applied += 1
            elif status == "slow":
                s.slow += 1
            else:
                s.failed += 1
    return stats


def _disk_usage(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run_augment(dd, preset: Preset, settings: AugSettings, out: Path, workers: int | None = None,
                progress: bool = True, log=print) -> pd.DataFrame:
    """Generate (or finish) the augmentation set in `out`; returns the manifest."""
    workers = workers or os.cpu_count() or 1
    jobs = plan(dd, preset, settings, out, log)
    prepare_out_dir(out, settings_dict(settings, preset, dd.train, dd.train_dir))
    with Lock(out, f"augment set {out}"):  # one writer per set; the OS drops it if the process dies
        done = _resume_state(out, jobs, log)
        todo = jobs[~jobs["ID"].isin(done)]
        n_workers = min(workers, max(1, len(todo)))
        state = WorkerState(preset=str(preset.path), train_dir=str(dd.train_dir), images_dir=str(out / "images"),
                            size=settings.size, seed=settings.seed, source_ids=list(dd.train["ID"]),
                            pseudo_dir=str(settings.pseudo.path / "images") if settings.pseudo is not None else "")
        t0 = time.perf_counter()
        new = execute(todo, state, out, done, len(jobs), n_workers, progress, preset.name, log)
        recs = [done[i] for i in jobs["ID"]]
        manifest = jobs.assign(ops=["|".join(r["ops"]) or "none" for r in recs])[MANIFEST_COLUMNS]
        write_manifest(manifest, out)
    summarise(preset, recs, jobs, out, new, time.perf_counter() - t0, n_workers, log)
    return manifest


def plan(dd, preset: Preset, settings: AugSettings, out: Path, log) -> pd.DataFrame:
    """Every output image of the set (ID, target, source_id, copy), in manifest order."""
    copies = plan_copies(dd.train, settings.scale, settings.balance, settings.oversample, dd.num_classes)
    jobs = plan_jobs(copies)
    if settings.pseudo is not None:
        extra = pseudo_jobs(settings.pseudo, settings.scale, jobs)
        log(f"pseudo set {settings.pseudo.path}: {len(settings.pseudo.manifest)} pseudo-labelled test images x "
            f"{settings.scale} -> {len(extra)} more images (on every fold's training side, never validated on)")
        jobs = pd.concat([jobs, extra], ignore_index=True)
    log(f"plan: {len(dd.train)} train images x preset {preset.name} -> {len(jobs)} images in {out}")
    log("per-class totals: " + ", ".join(f"{int(t)}:{int(n)}" for t, n in jobs.groupby("target").size().items()))
    return jobs


def _resume_state(out: Path, jobs: pd.DataFrame, log) -> dict[str, dict]:
    """Images already complete from an earlier, interrupted run (temp files of a killed write removed)."""
    n_tmp = _clean_temp_files(out / "images")
    done = read_journal(out, jobs)
    # rewrite the journal with only valid lines, so a torn last line never swallows the next record
    atomic_write_text(out / JOURNAL, "".join(json.dumps(r) + "\n" for r in done.values()))
    if done or n_tmp:
        log(f"resuming: {len(done)} of {len(jobs)} images already complete"
            + (f" ({n_tmp} partial temp files removed)" if n_tmp else ""))
    return done


def execute(todo: pd.DataFrame, state: WorkerState, out: Path, done: dict, total: int, workers: int,
            progress: bool, desc: str, log) -> int:
    """Make the images still to do, journalling each one as it lands; returns how many were made."""
    if todo.empty:
        return 0
    jobs = list(todo[["ID", "source_id", "copy", "target"]].itertuples(index=False, name=None))
    new = 0
    with open(out / JOURNAL, "a", encoding="utf-8") as journal, \
            Progress(total, f"augment {desc}", unit="img", initial=len(done), enabled=progress) as bar:
        def on_result(rec):
            nonlocal new
            rec["bytes"] = (out / "images" / rec["ID"]).stat().st_size
            journal.write(json.dumps(rec) + "\n")
            journal.flush()  # in the kernel's hands now: survives kill -9 of this process
            done[rec["ID"]] = rec
            new += 1
            bar.update(1)

        try:
            _run_jobs(jobs, state, workers, on_result)
        except KeyboardInterrupt:
            log(f"\ninterrupted after {new} new images; re-run the same command to resume")
            raise
    return new


def summarise(preset: Preset, recs: list[dict], jobs: pd.DataFrame, out: Path, new: int, elapsed: float,
              workers: int, log) -> None:
    """What was made, how fast, which ops failed or ran over budget, disk use."""
    log("")
    log(f"done: {len(jobs)} images ({new} made now in {elapsed:.1f} s"
        + (f", {new / elapsed:.1f} images/s with {workers} workers" if new and elapsed > 0 else "") + ")")
    per_class = jobs.groupby("target").size()
    log("per-class totals (target:images): " + ", ".join(f"{int(t)}:{int(n)}" for t, n in per_class.items()))
    stats = summarize(recs)
    if stats:
        _log_op_stats(preset, stats, recs, log)
    log(f"disk use: {human_bytes(_disk_usage(out))} in {out}")
    log(f"manifest: {out / 'manifest.csv'}")


def _log_op_stats(preset: Preset, stats: dict[str, OpStats], recs: list[dict], log) -> None:
    width = max(len(n) for n in stats)
    log(f"  {'op':<{width}}  applied  failed  slow  mean ms")
    for op in preset.ops:
        s = stats.get(op.name)
        if s is None:
            continue
        n = s.applied + s.failed + s.slow
        log(f"  {op.name:<{width}}  {s.applied:7d}  {s.failed:6d}  {s.slow:4d}  {s.total_ms / max(n, 1):7.1f}")
    failures = sum(s.failed + s.slow for s in stats.values())
    log(f"op failures/over-budget skipped: {failures}" if failures else "no op failed or ran over budget")
    for name, s in stats.items():
        if s.failed:
            msg = next(st for r in recs for n, st, _ in r["records"] if n == name and st.startswith("failed"))
            log(f"  first failure of {name}: {msg}")
