"""What a fold trains and validates on, and the datasets/loaders that feed it.

Images are plainly resized to img_size x img_size (no letterbox): a page keeps all its pixels, and the test pages
come at any angle, so no aspect ratio is special. Images already at that size (an AUG set made with --size) are
used as they are. With crop_band only a band of rows (e.g. the title) is kept first, then resized the same way
(`fit`, the one place every train, validation and test image passes). With the image cache (default when it
fits in RAM) every image is decoded and resized once per run; the per-step loader cost is then one light
albumentations pass.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import albumentations as A
import cv2
import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, DistributedSampler, Sampler
from tqdm import tqdm

from dl_cls.artifacts import pseudosets
from dl_cls.artifacts.augsets import MANIFEST, MANIFEST_COLUMNS, read_manifest
from dl_cls.core.errors import DataError, DlClsError
from dl_cls.core.io import IMAGE_SUFFIXES, image_files, read_image
from dl_cls.data.contract import DataDir
from dl_cls.data.folds import is_pseudo, manifest_folds, train_rows_for_fold
from dl_cls.imaging.testlike import load_testlike_config, testlike_copy
from dl_cls.train.config import TrainConfig, parse_focus
from dl_cls.train.posed import PosedPages, gather, pose_one



# ---------------------------------------------------------------------------------------------- what to train on
def load_table(dd: DataDir, aug_dir: Path | None, pseudo_dir: Path | None = None) -> pd.DataFrame:
    """Every image the trainer may train on: ID,target,source_id,copy,path. Without an AUG set, the originals
    (plus the pseudo set's images, when one is given).

    Targets come from the (label-fixed) train table through source_id; a manifest that disagrees is an error,
    since it was made from other labels. Pseudo-labelled rows (source_id "pseudo:<test ID>") carry their own
    target and belong to no fold: they are only ever trained on."""
    train_target = dict(zip(dd.train["ID"], dd.train["target"]))
    if aug_dir is None:
        table = pd.DataFrame({"ID": dd.train["ID"], "target": dd.train["target"], "source_id": dd.train["ID"],
                              "copy": 0, "path": [str(dd.train_path(i)) for i in dd.train["ID"]]})
        return table if pseudo_dir is None else pd.concat([table, pseudo_table(dd, pseudo_dir)], ignore_index=True)
    path = Path(aug_dir) / MANIFEST
    if not path.is_file():
        raise DlClsError(f"{path} not found: is {aug_dir} an augmented set (dl-cls augment)?")
    manifest = read_manifest(aug_dir)
    missing = [c for c in MANIFEST_COLUMNS if c not in manifest.columns]
    if missing:
        raise DataError([f"{path}: missing column(s) {', '.join(missing)}; expected {','.join(MANIFEST_COLUMNS)}"])
    check_aug_pseudo(aug_dir, pseudo_dir)
    pseudo = is_pseudo(manifest["source_id"])
    pseudo_rows = manifest[pseudo] if pseudo_dir is not None else manifest.iloc[:0]
    manifest = manifest[~pseudo].reset_index(drop=True)
    table = _checked_aug_rows(dd, aug_dir, manifest, train_target)
    pseudo_rows = pseudo_rows.assign(path=[str(Path(aug_dir) / "images" / i) for i in pseudo_rows["ID"]])
    return pd.concat([table, pseudo_rows[table.columns]], ignore_index=True)


def pseudo_table(dd: DataDir, pseudo_dir: Path) -> pd.DataFrame:
    """The pseudo set's images as training rows (its copies of the chosen test images)."""
    ps = pseudosets.load(pseudo_dir, dd.root)
    bad = ~ps.manifest["target"].isin(range(dd.num_classes))
    if bad.any():
        raise DlClsError(f"{ps.path / MANIFEST}: row {int(bad.to_numpy().argmax()) + 2}: target is not a class of "
                         f"{dd.root / 'meta.csv'}")
    m = ps.manifest
    return pd.DataFrame({"ID": m["ID"], "target": m["target"].astype(int), "source_id": m["source_id"],
                         "copy": 0, "path": [str(ps.path / "images" / i) for i in m["ID"]]})


def check_aug_pseudo(aug_dir: Path, pseudo_dir: Path | None) -> None:
    """Training on an AUG set with a pseudo set needs the set's offline-augmented copies inside it."""
    if pseudo_dir is None:
        return
    held = pseudosets.in_aug_set(aug_dir)
    want = str(Path(pseudo_dir).resolve())
    if held is None or held.get("dir") != want:
        has = f"holds the copies of {held.get('dir')}" if held else "holds no pseudo-labelled copies"
        raise DlClsError(f"augment set {aug_dir} {has}, not of pseudo set {want}: make them with `make augment "
                         f"SCALE=... PSEUDO={Path(want).name}` (dl-cls augment --pseudo), or train on the originals "
                         "(--aug none), or without pseudo-labels (--pseudo none)")


def pseudo_round(aug_dir: Path | None, pseudo_dir: Path | None) -> int | None:
    """The round of the pseudo set a run trains on (from the AUG set's record when its copies are there)."""
    if pseudo_dir is None:
        return None
    held = pseudosets.in_aug_set(aug_dir) if aug_dir is not None else None
    return int(held["round"]) if held else int(pseudosets.read_settings(pseudo_dir).get("round", 1))


def _checked_aug_rows(dd: DataDir, aug_dir: Path, manifest: pd.DataFrame, train_target: dict) -> pd.DataFrame:
    """The AUG set's rows made from train images, each checked against the (label-fixed) train table."""
    path = Path(aug_dir) / MANIFEST
    problems = []
    unknown = ~manifest["source_id"].isin(train_target)
    for i in np.flatnonzero(unknown.to_numpy())[:10]:
        problems.append(f"{path}: row {i + 2} (ID {manifest['ID'].iloc[i]}): source_id "
                        f"{manifest['source_id'].iloc[i]} is not in {dd.root / 'train.csv'}")
    expected = manifest["source_id"].map(train_target)
    disagree = (~unknown) & (expected != manifest["target"])
    for i in np.flatnonzero(disagree.to_numpy())[:10]:
        problems.append(f"{path}: row {i + 2} (ID {manifest['ID'].iloc[i]}): target {manifest['target'].iloc[i]} "
                        f"but train.csv (label fixes applied) says {int(expected.iloc[i])} for source "
                        f"{manifest['source_id'].iloc[i]}; re-run augment after changing labels")
    if problems:
        n = int(unknown.sum() + disagree.sum())
        raise DataError(problems, f"{path} does not match {dd.root} ({n} bad rows, first {len(problems)} shown)")
    images = Path(aug_dir) / "images"
    out = manifest[["ID", "source_id", "copy"]].copy()
    out["target"] = expected.astype(int).to_numpy()
    out["path"] = [str(images / i) for i in manifest["ID"]]
    return out[["ID", "target", "source_id", "copy", "path"]].reset_index(drop=True)


def select_rows(table: pd.DataFrame, cfg: TrainConfig) -> pd.DataFrame:
    """Class subset and seeded class-stratified fraction of the augmented copies (originals always stay)."""
    if cfg.classes is not None:
        table = table[table["target"].isin(cfg.classes)]
    if cfg.fraction < 1:
        copies = table[table["copy"] > 0]
        kept = copies.groupby("target", group_keys=False).sample(frac=cfg.fraction, random_state=cfg.seed)
        table = table[(table["copy"] == 0) | table.index.isin(kept.index)]
    return table


# ops of the augment presets that turn or mirror a page (manifest.csv's `ops` names them)
POSE_OPS = frozenset({"rot90", "hflip", "vflip"})


def upright_rows(table: pd.DataFrame, manifest: pd.DataFrame | None) -> pd.DataFrame:
    """The rows an upright member trains on: the originals and the AUG copies (rows of the AUG set's manifest)
    that no quarter turn or mirror touched (their skew, crops, noise, light and overlays stay)."""
    if manifest is None:
        return table
    posed = {i for i, o in zip(manifest["ID"], manifest["ops"].astype(str)) if POSE_OPS & set(o.split("|"))}
    return table[~table["ID"].isin(posed)]


def fold_train_rows(table: pd.DataFrame, folds: pd.DataFrame, k: int, cfg: TrainConfig) -> pd.DataFrame:
    """Rows fold k trains on (sources outside fold k), focus classes repeated; index = position in `table`."""
    rows = train_rows_for_fold(table, folds, k)
    focus, factor = parse_focus(cfg.focus)
    if focus:
        reps = np.where(rows["target"].isin(focus), int(round(factor)), 1)
        rows = rows.loc[rows.index.repeat(reps)]
    return rows


def fold_val_ids(dd: DataDir, folds: pd.DataFrame, k: int, cfg: TrainConfig) -> pd.DataFrame:
    """Fold k's original train images (ID,target), in train.csv order, limited to the class subset."""
    fold_of = dict(zip(folds["ID"], folds["fold"]))
    val = dd.train[dd.train["ID"].map(fold_of) == k]
    if cfg.classes is not None:
        val = val[val["target"].isin(cfg.classes)]
    return val.reset_index(drop=True)


def check_no_leak(rows: pd.DataFrame, folds: pd.DataFrame, k: int) -> None:
    """Defence in depth: a fold's training rows must never come from one of its validation sources."""
    bad = manifest_folds(rows, folds) == k
    if bad.any():
        raise DlClsError(f"internal error: fold {k} would train on validation source "
                         f"{rows['source_id'][bad].iloc[0]}")


# ---------------------------------------------------------------------------------------------- images
def resize(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    if h == size and w == size:
        return img
    interp = cv2.INTER_AREA if max(h, w) > size else cv2.INTER_LINEAR
    return cv2.resize(img, (size, size), interpolation=interp)


def crop_rows(img: np.ndarray, band: list[float] | None) -> np.ndarray:
    """Rows [top, bottom) of a page, as fractions of its height (at least one row); None: the whole page."""
    if band is None:
        return img
    h = img.shape[0]
    top = min(int(round(band[0] * h)), h - 1)
    return img[top:max(int(round(band[1] * h)), top + 1)]


def fit(img: np.ndarray, size: int, band: list[float] | None = None) -> np.ndarray:
    """What the model sees of an image: its band of rows (crop_band), resized to size x size."""
    return resize(crop_rows(img, band), size)


def prediction_paths(dd: DataDir, test_dir: str | None) -> list[str]:
    """The test images to predict, in sample_submission order: DATA/test, or the same file names in test_dir."""
    if test_dir is None:
        return [str(dd.test_path(i)) for i in dd.test_ids]
    paths = [Path(test_dir) / i for i in dd.test_ids]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise DlClsError(f"test_dir {test_dir} lacks {len(missing)} of the {len(paths)} test images of "
                         f"{dd.root / 'sample_submission.csv'} (first: {missing[0]}); it must hold every file "
                         f"of {dd.test_dir} under the same name")
    return [str(p) for p in paths]


def _threads() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def parallel_map(fn, items, desc: str, show: bool) -> list:
    """OpenCV decode/resize release the GIL, so threads use every core without pickling images."""
    with ThreadPoolExecutor(_threads()) as pool:
        return list(tqdm(pool.map(fn, items), total=len(items), desc=desc, disable=not show, leave=False))


class ImageStore:
    """Images at img_size, by position: decoded once into RAM (cache) or read from disk on every access."""

    def __init__(self, paths: list[str], size: int, cache: bool, show: bool = False, desc: str = "decode",
                 band: list[float] | None = None):
        self.paths, self.size, self.band = list(paths), size, band
        self.images = None
        if cache and self.paths:
            self.images = np.stack(parallel_map(self._load, self.paths, desc, show))

    def _load(self, path: str) -> np.ndarray:
        return fit(read_image(path), self.size, self.band)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.images[i] if self.images is not None else self._load(self.paths[i])


def want_cache(cfg: TrainConfig, n_images: int) -> bool:
    if cfg.cache_images != "auto":
        return cfg.cache_images == "true"
    return n_images * cfg.img_size * cfg.img_size * 3 <= cfg.cache_max_gb * 2**30


def testlike_images(paths: list[str], ids: list[str], size: int, seed: int, show: bool,
                    config: str | None = None, band: list[float] | None = None) -> np.ndarray:
    """A fixed, seeded test-like corruption of each validation original (full resolution, then resized), with the
    corruption config at `config` (None: the shipped calibration).

    The overlapping 'other' document is another image of the same list, so no training image leaks in."""
    cfg = load_testlike_config(config) if config else None

    def one(i: int) -> np.ndarray:
        return fit(testlike_copy(paths, ids, i, seed, cfg), size, band)

    return np.stack(parallel_map(one, range(len(paths)), "test-like val", show))


def posed_testlike(paths: list[str], ids: list[str], size: int, seed: int, models: dict, show: bool,
                   config: str | None = None, band: list[float] | None = None) -> PosedPages:
    """The test-like copies of validation originals (as testlike_images makes them) through the pose step, each
    with its true pose, so the pose model's mistakes count in the OOF."""
    cfg = load_testlike_config(config) if config else None

    def one(i: int):
        geometry: dict = {}
        img = testlike_copy(paths, ids, i, seed, cfg, geometry=geometry)
        return pose_one(img, models, lambda page: fit(page, size, band), geometry)

    return gather(parallel_map(one, range(len(paths)), "pose val test-like", show))


def posed_images(paths: list[str], size: int, models: dict, show: bool,
                 band: list[float] | None = None) -> PosedPages:
    """Images (the test pages) through the pose step of every model in `models`."""
    return gather(parallel_map(lambda p: pose_one(read_image(p), models, lambda page: fit(page, size, band)), paths,
                               "pose test", show))


# ---------------------------------------------------------------------------------------------- online aug
def online_transform(preset: str, has_aug_dir: bool, pose: str = "all") -> A.Compose | None:
    """Cheap online augmentation at img_size. 'auto': light on an offline-augmented set, strong on plain originals
    (the originals alone never show the rotations, flips, noise and blur of the test set); for an upright member
    (pose upright) 'upright' on an AUG set (its copies carry the skew) and 'skew' on plain originals. 'upright'
    never flips or turns: for crop_band, whose rows must stay the top of an upright page; 'skew' adds the skew
    the pose step leaves (the deskew is off by up to the calibrated 35 degrees on some pages)."""
    if preset == "auto" and pose == "upright":
        preset = "upright" if has_aug_dir else "skew"
    elif preset == "auto":
        preset = "light" if has_aug_dir else "strong"
    if preset == "none":
        return None
    if preset in ("upright", "skew"):
        turn = (-35, 35) if preset == "skew" else (-3, 3)
        return A.Compose([
            A.Affine(scale=(0.9, 1.1), translate_percent=(-0.03, 0.03), rotate=turn, fill=255,
                     p=0.75 if preset == "skew" else 0.5),
            A.RandomBrightnessContrast(brightness_limit=0.3, contrast_limit=0.3, p=0.7),
            A.OneOf([A.GaussianBlur(blur_limit=(3, 5)), A.MotionBlur(blur_limit=(3, 7))], p=0.3),
            A.GaussNoise(std_range=(0.02, 0.1), p=0.4),
        ])
    light = [
        A.HorizontalFlip(p=0.5),
        A.Affine(scale=(0.9, 1.1), translate_percent=(-0.05, 0.05), rotate=(-10, 10), fill=255, p=0.5),
        A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.2, p=0.5),
    ]
    if preset == "light":
        return A.Compose(light)
    strong = [
        A.HorizontalFlip(p=0.5),
        A.RandomRotate90(p=1.0),
        A.Affine(scale=(0.85, 1.1), translate_percent=(-0.05, 0.05), rotate=(-180, 180), fill=255, p=0.7),
        A.RandomBrightnessContrast(brightness_limit=0.3, contrast_limit=0.3, p=0.7),
        A.OneOf([A.GaussianBlur(blur_limit=(3, 5)), A.MotionBlur(blur_limit=(3, 7))], p=0.3),
        A.GaussNoise(std_range=(0.02, 0.1), p=0.4),
    ]
    return A.Compose(strong)


# ---------------------------------------------------------------------------------------------- datasets
def to_chw(img: np.ndarray) -> torch.Tensor:
    """uint8 HWC -> uint8 CHW; normalisation happens on the device (4x less to copy than float)."""
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)


class TrainSet(Dataset):
    """Keys are (position, aug_seed) pairs from SeededSampler, so an image's augmentation depends on
    (seed, epoch, position) only, never on worker order: a resumed epoch is the same epoch."""

    def __init__(self, store: ImageStore, index: np.ndarray, labels: np.ndarray, transform: A.Compose | None):
        self.store, self.index, self.labels, self.transform = store, np.asarray(index), np.asarray(labels), transform

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, key):
        i, aug_seed = key
        img = self.store[int(self.index[i])]
        if self.transform is not None:
            self.transform.set_random_seed(int(aug_seed))
            img = self.transform(image=img)["image"]
        return to_chw(img), int(self.labels[i]), i


class EvalSet(Dataset):
    def __init__(self, images):  # an ImageStore or a uint8 array (N, H, W, 3)
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return to_chw(self.images[i]), i


class SeededSampler(Sampler):
    """DistributedSampler's shuffled, rank-sharded order (also for one process) + a per-sample aug seed."""

    def __init__(self, n: int, seed: int, rank: int, world: int):
        self.inner = DistributedSampler(range(n), num_replicas=world, rank=rank, shuffle=True, seed=seed)
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.inner.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.inner)

    def __iter__(self):
        order = list(self.inner)
        seeds = np.random.SeedSequence([self.seed, self.epoch]).generate_state(max(1, len(order)))
        return iter(zip(order, seeds.tolist()))


def list_image_folder(folder: Path) -> tuple[list[str], list[str]]:
    """(IDs, paths) to predict: a competition data dir's test set in sample_submission order, else every image
    file in the folder, sorted by name."""
    folder = Path(folder)
    sub = folder / "sample_submission.csv"
    if sub.is_file() and (folder / "test").is_dir():
        ids = pd.read_csv(sub, dtype={"ID": str})["ID"].tolist()
        return ids, [str(folder / "test" / i) for i in ids]
    if not folder.is_dir():
        raise DlClsError(f"{folder}: image folder not found")
    files = image_files(folder)
    if not files:
        raise DlClsError(f"{folder}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) found")
    return [p.name for p in files], [str(p) for p in files]
