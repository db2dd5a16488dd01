"""The OCR table: one row per image (ID,split,orientation,mirrored,skew_deg,n_chars,mean_conf,title,text), cached
per image and settings, so a run resumes after any interruption (kill -9 included) and a later run with more
images reuses what is read.

Layout: WORK/ocr/<engine>-<lang>-<settings hash>/
    settings.json           what the hash covers (engine version, reader settings)
    cache/<split>/<ID>.json one entry per image (atomic: absent or whole), with the image bytes' hash
    ocr.csv                 the table of the images of the last command
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dl_cls.core.errors import DataError, DlClsError
from dl_cls.core.io import as_flag, atomic_write_csv, atomic_write_text, read_image
from dl_cls.core.lock import Lock, is_held
from dl_cls.core.procs import worker_env, worker_pool
from dl_cls.core.progress import Progress
from dl_cls.data.contract import inspect_images
from dl_cls.imaging.testlike import TestlikeConfig, config_key, testlike_copy

COLUMNS = ["ID", "split", "orientation", "mirrored", "skew_deg", "n_chars", "mean_conf", "title", "text"]
TABLE = "ocr.csv"


TRUTH = ["true_orientation", "true_mirrored"]  # copies' rows: the pose the corruption gave (None elsewhere)
# the other poses' readings of a page the pose model doubted (JSON list of the text columns; empty when none): the
# text model keeps the reading it is surest about (expert.surest_readings)
ALTS = "alts"
# the pose model's probability of the pose it picked (empty without a pose model, or read before it was kept): the
# share of pages it doubts, test pages against copies, is label-free (dl_cls.pose.mix)
POSE_P = "pose_p"
EXTRA = TRUTH + [ALTS, POSE_P]  # columns after COLUMNS, each optional in a table read back


def pose_right(rows: pd.DataFrame, copies: bool) -> pd.Series:
    """Whether the reader's pose of each row is right: a copy's is the pose its corruption gave (after the reader's
    own deskew); a clean train page is upright and unmirrored by definition."""
    mirrored = rows["mirrored"].map(as_flag)
    if copies:
        return (rows["orientation"] == rows["true_orientation"]) & (mirrored == rows["true_mirrored"].map(as_flag))
    return (rows["orientation"] == 0) & ~mirrored


def is_copy(split: str) -> bool:
    """A test-like copy of a train page: the OOF's (testlike) or one read only to train the text model (extra<k>)."""
    return split == "testlike" or split.startswith("extra")


@dataclass(frozen=True)
class Job:
    split: str  # train, test, or testlike: a seeded test-like copy of the train page at `path`
    id: str
    path: str
    variant: str = ""  # testlike: TestlikePages.key, the cache folder of that corruption


@dataclass(frozen=True)
class TestlikePages:
    """Seeded test-like copies of a list of train pages (imaging.testlike.testlike_copy, as the trainer validates):
    what a test page looks like, with a known pose, on pages whose class is known."""
    __test__ = False  # not a pytest test class
    paths: tuple[str, ...]
    ids: tuple[str, ...]
    seed: int = 0
    cfg: TestlikeConfig | None = None  # None: the shipped calibration
    split: str = "testlike"  # the table's split of these copies: testlike (the OOF's), extra<k> (training only)

    @property
    def key(self) -> str:
        """A copy depends on the seed, the corruption and the list (the sheet that may lie on a page is from it)."""
        spec = {"seed": self.seed, "cfg": config_key(self.cfg) if self.cfg else "default", "ids": list(self.ids)}
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:10]

    def jobs(self) -> list[Job]:
        return [Job(self.split, i, p, self.key) for i, p in zip(self.ids, self.paths)]

    def page(self, image_id: str) -> tuple[np.ndarray, dict]:
        geometry: dict = {}
        img = testlike_copy(list(self.paths), list(self.ids), self.ids.index(image_id), self.seed, self.cfg, geometry)
        return img, geometry


@dataclass(frozen=True)
class ReadContext:
    """What every OCR worker needs (pickled once per worker)."""
    engine: object
    settings: object
    budget_s: float
    root: str
    testlike: TestlikePages | None = None
    orient_run: str | None = None  # the orientation model's run dir (dl_cls.pose.model); None: OCR decides


def settings_dir(work, engine, settings, cache=None, orient_run: str | None = None) -> Path:
    """<cache>/<engine>-<lang>-<hash of engine version + reader settings + orientation model> (cache: WORK/ocr by
    default); settings.json records the key."""
    key = {"engine": engine.name, "engine_version": engine.version(), **settings.key(),
           "orientation_model": Path(orient_run).name if orient_run else None}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]
    out = Path(cache or Path(work) / "ocr") / f"{engine.name}-{re.sub(r'[^A-Za-z0-9]+', '_', settings.lang)}-{digest}"
    if not (out / "settings.json").is_file():
        atomic_write_text(out / "settings.json", json.dumps(key, indent=2) + "\n")
    return out


def entry_path(root: Path, job: Job) -> Path:
    return root / "cache" / (f"{job.split}-{job.variant}" if job.variant else job.split) / f"{job.id}.json"


def file_hash(path) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def cached_row(root: Path, job: Job) -> dict | None:
    """The cached row of an image, or None when there is none, it is unreadable or damaged, or the image changed
    (the page is then read again)."""
    path = entry_path(root, job)
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
        row = entry["row"] if entry["image_sha1"] == file_hash(job.path) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return row if is_whole_row(row, job) else None


# the type of every column of the table in a cached row: valid JSON can still be damaged (`"row": {}` gave an empty
# row in ocr.csv, `"n_chars": "abc"` a TypeError later)
ROW_TYPES = {"ID": str, "split": str, "orientation": int, "mirrored": bool, "skew_deg": float, "n_chars": int,
             "mean_conf": float, "title": str, "text": str}


def _typed(value, kind) -> bool:
    if kind is bool or isinstance(value, bool):
        return kind is bool and isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and np.isfinite(value)
    return isinstance(value, kind)


ALT_TYPES = {c: ROW_TYPES[c] for c in ("orientation", "mirrored", "n_chars", "mean_conf", "title", "text")}


def good_alts(alts) -> bool:
    """A list of readings, each with the text columns of the table, each of its type."""
    return isinstance(alts, list) and all(
        isinstance(a, dict) and all(c in a and _typed(a[c], t) for c, t in ALT_TYPES.items()) for a in alts)


def is_whole_row(row, job: Job) -> bool:
    """A cached row of this job with every column of the table, each of its type (test-like copies: their pose;
    the other poses' readings, where kept, whole too)."""
    types = {**ROW_TYPES, **({"true_orientation": int, "true_mirrored": bool} if is_copy(job.split) else {})}
    return (isinstance(row, dict) and all(c in row and _typed(row[c], t) for c, t in types.items())
            and row["ID"] == job.id and row["split"] == job.split and good_alts(row.get(ALTS, []))
            and good_pose_p(row.get(POSE_P)))


def good_pose_p(p) -> bool:
    """Absent (no pose model, or a reading from before it was kept) or a probability."""
    return p is None or (_typed(p, float) and 0.0 <= p <= 1.0)


# ------------------------------------------------------------------------------------------ workers
_WORKER: dict = {}


def _init_worker(ctx: ReadContext) -> None:
    import cv2

    cv2.setNumThreads(1)  # one thread per worker process; the engine is pinned to one too (OMP_THREAD_LIMIT)
    _WORKER["ctx"], _WORKER["orienter"] = ctx, None
    if ctx.orient_run:
        import torch

        from dl_cls.pose.model import load_orientation

        torch.set_num_threads(1)
        _WORKER["orienter"] = load_orientation(ctx.orient_run)


def read_one(job: Job) -> dict:
    """Read one image and write its cache entry atomically; returns the row (plus note and seconds)."""
    from dl_cls.pose.data import LABELS, label_of
    from dl_cls.ocr.read import read_document

    ctx: ReadContext = _WORKER["ctx"]
    t0, cpu0 = time.perf_counter(), cpu_seconds()
    geometry = None
    if is_copy(job.split):
        img, geometry = ctx.testlike.page(job.id)
    else:
        img = read_image(job.path)
    row = read_document(img, ctx.engine, ctx.settings, ctx.budget_s, _WORKER["orienter"])
    in_process = getattr(ctx.engine, "library_reader", lambda: None)() is not None  # not a table column
    row = {"ID": job.id, "split": job.split, **row, "in_process": in_process,
           "seconds": round(time.perf_counter() - t0, 3),
           "cpu_seconds": round(cpu_seconds() - cpu0, 3), "megapixels": round(img.shape[0] * img.shape[1] / 1e6, 4)}
    if geometry is not None:  # the pose that brings this copy upright after the reader's own deskew
        row["true_orientation"], row["true_mirrored"] = LABELS[label_of(geometry, row["skew_deg"])]
    entry = {"image_sha1": file_hash(job.path), "row": row}
    atomic_write_text(entry_path(Path(ctx.root), job), json.dumps(entry, ensure_ascii=False) + "\n")
    return row


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the engine runs as a subprocess): what a page costs,
    whatever else shares the machine (wall time counted the other workers' load)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


CACHE_WAIT_S = 24 * 3600  # a second command on one cache waits for the first as long as a long pass may take


def _cache_lock(root: Path) -> Lock:
    """One reader per cache dir: a second `dl-cls ocr` on the same pages and settings waits, then takes what the
    first wrote instead of reading every page again."""
    root.mkdir(parents=True, exist_ok=True)
    lock = Lock(root, f"OCR cache {root}")
    if is_held(lock.path):
        print(f"another dl-cls ocr is reading into {root}: waiting for it to end, then its readings are reused",
              flush=True)
    return lock.acquire(wait_s=CACHE_WAIT_S)


def check_images(jobs: list[Job]) -> list[tuple[int, int, str]]:
    """Every image to read decodes (as check-data checks them): all bad ones named at once, before any reading.
    Returns each image's (width, height, mode)."""
    paths = sorted({Path(j.path) for j in jobs})
    results = inspect_images(paths)
    problems = [problem for _, problem in results if problem]
    if problems:
        raise DataError(problems, "images that cannot be read (fix or remove them, then run dl-cls ocr again)")
    return [info for info, _ in results]


TINY_SIDE = 300  # pages shorter than this on their long side read little: 128 px sample pages gave one class's text


def tiny_pages_line(sizes: list[tuple[int, int, str]]) -> str | None:
    """A warning, before any reading, when most pages to read are tiny (the expert then learns from few of them)."""
    sides = [max(w, h) for w, h, _ in sizes]
    small = sum(s < TINY_SIDE for s in sides)
    if not sides or small * 2 <= len(sides):
        return None
    return (f"warning: {small} of the {len(sides)} images to read are under {TINY_SIDE} px on their long side "
            f"(median {int(np.median(sides))} px): the OCR reads little text that small, so few pages (or classes) "
            "may come out readable; give larger images if you have them")


def read_all(jobs: list[Job], ctx: ReadContext, workers: int, progress: bool = True) -> tuple[pd.DataFrame, dict]:
    """Rows of every job, from the cache where possible; the rest read in `workers` processes."""
    root = Path(ctx.root)
    with _cache_lock(root):
        return _read_all(jobs, ctx, workers, progress)


def _read_all(jobs: list[Job], ctx: ReadContext, workers: int, progress: bool) -> tuple[pd.DataFrame, dict]:
    root = Path(ctx.root)
    rows = {j: cached_row(root, j) for j in jobs}
    todo = [j for j, r in rows.items() if r is None]
    warning = tiny_pages_line(check_images(todo))
    if warning:
        print(warning, flush=True)
    stats = {"images": len(jobs), "cached": len(jobs) - len(todo), "read": len(todo), "budget_hit": 0}
    bar = Progress(len(todo), "ocr", "img", enabled=progress)  # a bar in a terminal, a few lines in a log
    if todo:
        with contextlib.ExitStack() as stack:
            stack.callback(bar.close)
            if workers <= 1:
                _init_worker(ctx)
                results = map(read_one, todo)
            else:  # terminated on Ctrl-C/SIGTERM, killed with this process: no worker writes on after it
                # OpenMP's thread limit is read once, as it loads (with torch): the in-process engine's is one thread
                stack.enter_context(worker_env({"OMP_THREAD_LIMIT": "1"}))
                pool = stack.enter_context(worker_pool(workers, _init_worker, (ctx,)))
                results = pool.imap(read_one, todo)
            for job, row in zip(todo, results):
                rows[job] = row
                stats["budget_hit"] += row.get("note") == "budget"
                bar.update()
    stats.update(_time_per_image([rows[j] for j in todo]))
    table = pd.DataFrame([rows[j] for j in jobs]).reindex(columns=COLUMNS + EXTRA)
    table[ALTS] = [json.dumps(a, ensure_ascii=False) if isinstance(a, list) and a else "" for a in table[ALTS]]
    return table, stats


def _time_per_image(read_now: list[dict]) -> dict:
    """CPU and wall seconds and candidate poses read (engine calls) per page read by this command (None when every
    page came from the cache: the time an earlier command took is not this one's), and the CPU cost by kind of page
    (cost_by_kind)."""
    def mean(key):
        values = [r[key] for r in read_now if key in r]
        return round(sum(values) / len(values), 3) if values else None
    return {"cpu_seconds_per_image": mean("cpu_seconds"), "wall_seconds_per_image": mean("seconds"),
            "poses_read_per_image": mean("poses_read"), "in_process": mean("in_process"),
            "cpu_by_kind": cost_by_kind(read_now)}


SLOW_PAGE_S = 5.0  # the tail a page's read is held to (issue 29: no page above ~5 CPU s); pages past it are counted


def page_kind(split: str) -> str:
    """train / copies (the test-like copies, probes included) / training copies (extra<k>) / test."""
    if split == "testlike":
        return "copies"
    return "training copies" if split.startswith("extra") else split


def cost_by_kind(rows: list[dict]) -> dict:
    """kind -> pages read, their CPU seconds in all, the largest, how many took more than SLOW_PAGE_S, and the poses
    read and megapixels in all (the two things a read's cost follows): sums and maxima, so that two read_all calls
    merge exactly (merge_kinds)."""
    out: dict = {}
    for r in rows:
        if "cpu_seconds" in r:
            s = r["cpu_seconds"]
            one = {"pages": 1, "cpu_seconds": s, "max": s, "slow": int(s > SLOW_PAGE_S),
                   # no poses_read: the budget ran out before the first read (read_document)
                   "poses": r.get("poses_read", 0), "megapixels": r.get("megapixels", 0.0)}
            out = merge_kinds(out, {page_kind(r.get("split") or "pages"): one})
    return out


SUMMED = ("pages", "cpu_seconds", "slow", "poses", "megapixels")  # cost_by_kind's sums (and "max", a maximum)


def merge_kinds(a: dict, b: dict) -> dict:
    """Two cost_by_kind results as one."""
    out = {kind: dict(v) for kind, v in a.items()}
    for kind, v in b.items():
        o = out.setdefault(kind, {"max": 0.0})
        o.update({k: round(o.get(k, 0) + v.get(k, 0), 4) for k in SUMMED}, max=max(o["max"], v["max"]))
    return out


def cost_line(stats: dict) -> str | None:
    """What reading cost by kind of page: CPU s a page (the largest; poses read and megapixels a page) per kind and
    the pages over SLOW_PAGE_S; None when nothing was read now."""
    kinds = stats.get("cpu_by_kind") or {}
    if not kinds:
        return None
    parts = [f"{kind} {v['cpu_seconds'] / v['pages']:.2f} (max {v['max']:.2f}; {v.get('poses', 0) / v['pages']:.2f} "
             f"poses, {v.get('megapixels', 0) / v['pages']:.2f} MP)" for kind, v in kinds.items()]
    slow = sum(v["slow"] for v in kinds.values())
    tail = f"{slow} page(s) over {SLOW_PAGE_S:g} s" if slow else f"no page over {SLOW_PAGE_S:g} s"
    return f"CPU seconds a page by kind (one worker, the engine included): {', '.join(parts)}; {tail}"


def merge_stats(a: dict, b: dict) -> dict:
    """The stats of two read_all calls as one: counts added, seconds per page weighted by the pages read, the cost
    by kind merged."""
    out = {k: a[k] + b[k] for k in ("images", "cached", "read", "budget_hit")}
    for key in ("cpu_seconds_per_image", "wall_seconds_per_image", "poses_read_per_image", "in_process"):
        parts = [(s[key], s["read"]) for s in (a, b) if s.get(key) is not None and s["read"]]
        out[key] = round(sum(v * n for v, n in parts) / sum(n for _, n in parts), 3) if parts else None
    out["cpu_by_kind"] = merge_kinds(a.get("cpu_by_kind") or {}, b.get("cpu_by_kind") or {})
    return out


def write_table(table: pd.DataFrame, root: Path) -> Path:
    path = root / TABLE
    atomic_write_csv(table, path)
    return path


def read_table(path) -> pd.DataFrame:
    """An OCR table, checked: the columns above, one row per (split, ID)."""
    path = Path(path)
    if not path.is_file():
        raise DlClsError(f"{path}: OCR table not found (run dl-cls ocr first)")
    df = pd.read_csv(path, dtype={"ID": str, "title": str, "text": str, ALTS: str},
                     keep_default_na=False)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DlClsError(f"{path}: not an OCR table (missing columns {', '.join(missing)})")
    dup = df.duplicated(["split", "ID"])
    if dup.any():
        raise DlClsError(f"{path}: line {int(dup.to_numpy().argmax()) + 2}: ID {df['ID'][dup].iloc[0]} appears twice")
    df["n_chars"] = pd.to_numeric(df["n_chars"], errors="coerce").fillna(0).astype(int)
    df = df.reindex(columns=list(df.columns) + [c for c in TRUTH + [POSE_P] if c not in df.columns])
    df[POSE_P] = pd.to_numeric(df[POSE_P], errors="coerce")  # empty: no pose model, or a reading from before
    if ALTS not in df.columns:  # a table of a reader before version 5
        return df.assign(**{ALTS: ""})
    for line, alts in enumerate(df[ALTS], start=2):
        if alts and not good_alts(_json_or_none(alts)):
            raise DlClsError(f"{path}: line {line}: column {ALTS} is not a list of readings "
                             f"({', '.join(ALT_TYPES)}); run dl-cls ocr again to rewrite the table")
    return df


def _json_or_none(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return None
