"""The k-fold driver: resolve the run, build each fold's leak-free data, train, predict OOF + test with TTA,
merge folds into the run's oof.csv / test_probs.csv / summary.json."""
from __future__ import annotations

import json
import platform
import shutil
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from dl_cls.artifacts.augsets import read_manifest
from dl_cls.artifacts.runs import (FOLD_DONE, RunConfig, check_name, classes_of, finished_folds, git_commit, load_truth,
                                   macro_f1, package_versions, prob_columns, read_run_config, resolve_run_dir,
                                   split_hash, write_run_config)
from dl_cls.core.errors import DlClsError
from dl_cls.core.io import atomic_write_csv, atomic_write_text, create_run_dir, data_key
from dl_cls.core.lock import Lock
from dl_cls.data.contract import DataDir, load_data
from dl_cls.data.folds import ensure_folds, is_pseudo, load_folds, make_folds
from dl_cls.train import dist, loop, tta
from dl_cls.train import model as model_lib
from dl_cls.train.config import TrainConfig, load_train_config, parse_focus, recipe_dict, recipe_from_run
from dl_cls.train.curves import save_learning_curves
from dl_cls.train.data import (ImageStore, TrainSet, check_no_leak, fold_train_rows, fold_val_ids, load_table,
                               online_transform, posed_images, posed_testlike, prediction_paths, pseudo_round,
                               select_rows, testlike_images, upright_rows, want_cache)
from dl_cls.train.posed import PoseStep



@dataclass
class RunSpec:
    """What `dl-cls train` was asked to do (CLI arguments, resolved)."""
    model: str | None  # configs/models/NAME.yaml or a YAML path; None with resume
    data_dir: str | None = None
    work_dir: str = "work"
    aug_dir: str | None = None
    pseudo_dir: str | None = None  # a pseudo-label set (dl-cls pseudo) added to every fold's training side
    folds: list[int] | None = None
    name: str | None = None
    resume: str | None = None
    dry_run: bool = False
    label_fixes: str = "default"
    overrides: list[str] | dict | None = None


def _check_resume_args(spec: RunSpec, saved: RunConfig, run_dir: Path) -> None:
    """A resumed run keeps its saved recipe and dirs; arguments that repeat them are fine (make passes them),
    arguments that would change them are an error."""
    problems = []
    if spec.overrides:
        problems.append(f"key=value overrides {spec.overrides}")
    if spec.model and Path(spec.model).stem != saved.model_config:
        problems.append(f"--model {spec.model} (run: {saved.model_config})")
    for flag, given, was in (("--data", spec.data_dir, saved.data_dir), ("--aug", spec.aug_dir, saved.aug_dir),
                             ("--pseudo", spec.pseudo_dir, saved.pseudo_dir)):
        if given and str(Path(given).resolve()) != was:
            problems.append(f"{flag} {given} (run: {was})")
    if problems:
        raise DlClsError(f"--resume continues {run_dir} with its saved config.yaml; these arguments would change it: "
                         + "; ".join(problems) + ". Drop them, or start a new run")


def _existing_run(spec: RunSpec) -> Path | None:
    """The run dir this command continues: --resume RUN, or an existing --name (adding folds to it)."""
    if spec.resume:
        return resolve_run_dir(spec.resume, spec.work_dir)
    if spec.name is None:
        return None
    path = Path(spec.work_dir) / "runs" / check_name(spec.name)
    if path.exists() and not (path / "config.yaml").is_file():
        raise DlClsError(f"{path} exists but is not a run (no config.yaml); outputs are never overwritten: "
                         "pick another --name")
    return path if path.exists() else None


def _load_recipe(spec: RunSpec) -> TrainConfig:
    if not spec.model:
        raise DlClsError("--model NAME is required (configs/models/NAME.yaml or a YAML path)")
    cfg = load_train_config(spec.model, spec.overrides)
    if cfg.test_dir:
        cfg.test_dir = str(Path(cfg.test_dir).resolve())  # like data_dir: a resume from elsewhere finds it
    return cfg


def _recipe_differences(spec: RunSpec, saved: RunConfig, saved_cfg: TrainConfig) -> list[str]:
    """What `--model M --name EXISTING ...` would change in that run (nothing: it only adds folds)."""
    cfg = _load_recipe(spec)
    if cfg.classes is not None:
        cfg.classes = sorted(set(cfg.classes))  # as the run saved them
    new, old = recipe_dict(cfg), recipe_dict(saved_cfg)
    diffs = [f"{k}: {old.get(k)!r} -> {v!r}" for k, v in new.items() if old.get(k) != v]
    given = {"model_config": (saved.model_config, Path(spec.model).stem),
             "data_dir": (saved.data_dir, data_key(spec.data_dir or "data")),
             "aug_dir": (saved.aug_dir, str(Path(spec.aug_dir).resolve()) if spec.aug_dir else None),
             "pseudo_dir": (saved.pseudo_dir, str(Path(spec.pseudo_dir).resolve()) if spec.pseudo_dir else None),
             "label_fixes": (saved.label_fixes, str(spec.label_fixes))}
    diffs += [f"{k}: {was!r} -> {v!r}" for k, (was, v) in given.items() if was != v]
    return diffs


# ---------------------------------------------------------------------------------------------- the run
class TrainingRun:
    """Resolved state shared by the folds: config, data, folds, run dir, image stores."""

    def __init__(self, spec: RunSpec, d: dist.Dist):
        self.spec, self.d = spec, d
        self.dir = _existing_run(spec)
        self.saved = self._load_saved() if self.dir else None
        if self.saved is None:
            self._new_recipe()
        model_lib.check_weights_source(self.cfg)
        self.dd: DataDir = load_data(self.data_dir, self.label_fixes)
        self.folds = self._load_folds()
        self.all_folds = sorted(self.folds["fold"].unique().tolist())
        self.run_folds, self.requested = self._folds_to_train()
        self.classes = self._classes()
        self.local = {c: j for j, c in enumerate(self.classes)}  # original target -> model output index
        if self.cfg.fraction < 1 and self.aug_dir is None:
            raise DlClsError(f"fraction={self.cfg.fraction} samples the copies of an augmented set: pass --aug DIR")
        if self.cfg.crop_band is not None and (self.aug_dir is not None or self.pseudo_dir is not None):
            raise DlClsError(f"crop_band={self.cfg.crop_band} keeps rows of upright pages, but the AUG set or the "
                             "pseudo-labelled test pages are turned and flipped: train on the originals (--aug none "
                             "--pseudo none)")
        if self.cfg.pose == "upright" and self.pseudo_dir is not None:
            raise DlClsError(f"pose=upright trains on upright pages, but the pseudo-labelled test pages of "
                             f"{self.pseudo_dir} lie as photographed: pass --pseudo none (PSEUDO=none)")
        table = select_rows(load_table(self.dd, self.aug_dir, self.pseudo_dir), self.cfg)
        if self.cfg.pose == "upright":
            table = upright_rows(table, read_manifest(self.aug_dir) if self.aug_dir else None)
        self.table = table.reset_index(drop=True)
        self.test_paths = prediction_paths(self.dd, self.cfg.test_dir)  # a missing test image fails before any run dir

    def _load_saved(self) -> RunConfig:
        """Continue an existing run: its saved recipe and dirs win; arguments may only repeat them."""
        self.cfg, saved = recipe_from_run(self.dir)
        if self.spec.resume:
            _check_resume_args(self.spec, saved, self.dir)
        else:
            diffs = _recipe_differences(self.spec, saved, self.cfg)
            if diffs:
                raise DlClsError(f"{self.dir} already exists with another recipe ({'; '.join(diffs)}); outputs are "
                                 "never overwritten: pick another --name (the same recipe only adds folds to it)")
        self.data_dir, self.aug_dir = Path(saved.data_dir), saved.aug_dir and Path(saved.aug_dir)
        self.pseudo_dir = saved.pseudo_dir and Path(saved.pseudo_dir)
        self.work_dir, self.label_fixes = Path(saved.work_dir), saved.label_fixes
        self.model_name = saved.model_config or self.cfg.timm_name
        return saved

    def _new_recipe(self) -> None:
        spec = self.spec
        self.cfg = _load_recipe(spec)
        self.data_dir = Path(spec.data_dir or "data")
        self.aug_dir = Path(spec.aug_dir) if spec.aug_dir else None
        self.pseudo_dir = Path(spec.pseudo_dir) if spec.pseudo_dir else None
        self.work_dir, self.label_fixes = Path(spec.work_dir), spec.label_fixes
        self.model_name = Path(spec.model).stem

    def _load_folds(self) -> pd.DataFrame:
        """WORK/folds.csv (made on first use). An existing one is shared whatever n_folds says: every model's OOF
        rows must line up. A continued run must find the split it was trained on."""
        cfg, d, path = self.cfg, self.d, self.work_dir / "folds.csv"
        if path.exists():
            folds = load_folds(self.work_dir, self.dd)
        elif self.spec.dry_run:  # a dry run writes nothing
            folds = make_folds(self.dd.train, cfg.n_folds, cfg.folds_seed)
        else:
            if d.main:
                ensure_folds(self.work_dir, self.dd, cfg.n_folds, cfg.folds_seed)
            dist.barrier(d)
            folds = load_folds(self.work_dir, self.dd)
        if self.saved is not None:
            check_split(self.dir, self.saved, folds, path)
        return folds

    def _folds_to_train(self) -> tuple[list[int], list[int]]:
        """(folds this command trains, folds asked of the run so far). A resume without --folds continues the
        folds the run was asked for, never others."""
        asked_before = [] if self.saved is None else _first_set(self.saved.folds_requested, self.all_folds)
        wanted = self.spec.folds if self.spec.folds is not None else (asked_before or self.all_folds)
        unknown = sorted(set(wanted) - set(self.all_folds))
        if unknown:
            raise DlClsError(f"--folds {','.join(map(str, unknown))}: {self.work_dir / 'folds.csv'} has folds "
                             f"{','.join(map(str, self.all_folds))}")
        return sorted(set(wanted)), sorted(set(asked_before) | set(wanted))

    def _classes(self) -> list[int]:
        cfg, K = self.cfg, self.dd.num_classes
        classes = list(range(K))
        if cfg.classes is not None:
            bad = sorted(c for c in cfg.classes if not 0 <= c < K)
            if bad:
                raise DlClsError(f"classes {bad} are not in {self.data_dir / 'meta.csv'} (0..{K - 1})")
            classes = cfg.classes = sorted(set(cfg.classes))
        focus, _ = parse_focus(cfg.focus)
        bad = sorted(c for c in focus if c not in classes)
        if bad:
            raise DlClsError(f"focus={cfg.focus}: class(es) {bad} are not trained by this run (classes 0..{K - 1}"
                             f"{' subset ' + str(classes) if cfg.classes else ''}); pass --focus CLASSES:FACTOR")
        return classes

    # ------------------------------------------------------------------ description
    def resolved(self) -> dict:
        return {**recipe_dict(self.cfg), "model_config": self.model_name,
                "data_dir": data_key(self.data_dir), "work_dir": str(self.work_dir.resolve()),
                "aug_dir": str(self.aug_dir.resolve()) if self.aug_dir else None,
                "pseudo_dir": str(self.pseudo_dir.resolve()) if self.pseudo_dir else None,
                "pseudo_round": pseudo_round(self.aug_dir, self.pseudo_dir),
                "label_fixes": str(self.label_fixes), "num_classes": self.dd.num_classes,
                "class_names": self.dd.class_names, "folds": self.all_folds, "folds_requested": self.requested,
                "split_hash": split_hash(self.folds), "git_commit": git_commit()}

    def fold_counts(self) -> pd.DataFrame:
        rows = []
        for k in self.run_folds:
            tr = fold_train_rows(self.table, self.folds, k, self.cfg)
            val = fold_val_ids(self.dd, self.folds, k, self.cfg)
            rows.append({"fold": k, "train_images": len(tr), "train_sources": tr["source_id"].nunique(),
                         "pseudo_images": int(is_pseudo(tr["source_id"]).sum()), "val_images": len(val)})
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ artifacts
    def create_dir(self) -> bool:
        """Make the run dir (True), or record newly asked folds in an existing one (False)."""
        if self.dir is not None:
            if self.d.main and self.requested != self.saved.folds_requested:
                with Lock(self.dir, f"run {self.dir}").acquire(wait_s=60):
                    config = read_run_config(self.dir)
                    config.folds_requested = self.requested
                    write_run_config(self.dir, config)
            return False
        name = self.spec.name or f"{self.model_name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
        name = dist.broadcast(self.d, name)  # ranks may disagree on the clock's second
        self.dir = self.work_dir / "runs" / check_name(name)
        if self.d.main:
            create_run_dir(self.dir)
            write_run_config(self.dir, RunConfig.from_dict(self.resolved(), self.dir / "config.yaml"))
        dist.barrier(self.d)
        return True


def _first_set(*values):
    """The first value that is not None (a key an older config.yaml lacks)."""
    return next((v for v in values if v is not None), None)


def check_split(run_dir: Path, saved: RunConfig, folds: pd.DataFrame, folds_path: Path) -> None:
    """Refuse to continue or merge a run on another split than the one it recorded (runs made before the
    hash was recorded are not checked)."""
    recorded = saved.split_hash
    if recorded and recorded != split_hash(folds):
        raise DlClsError(f"{folds_path} is not the split {run_dir} was trained on (split hash {split_hash(folds)}, "
                         f"run: {recorded}); its folds would train or merge on other images. Restore that "
                         "folds.csv (WORK/folds.json has its settings) or start a new run")


def _describe(run: TrainingRun) -> str:
    counts = run.fold_counts()
    source = f"AUG {run.aug_dir}" if run.aug_dir else "originals (no AUG set) + online augmentation"
    if run.pseudo_dir:
        source += f" + pseudo-labelled test images of {run.pseudo_dir} (training side of every fold only)"
    head = (f"model {run.model_name} ({run.cfg.timm_model_name}), {len(run.classes)} classes"
            f"{' (subset ' + ','.join(map(str, run.classes)) + ')' if run.cfg.classes else ''}, training on {source}")
    return head + "\n" + counts.to_string(index=False)


def train(spec: RunSpec, force_cpu: bool = False) -> Path | None:
    """Run (or resume) the folds; returns the run dir (None for a dry run)."""
    d = dist.setup(force_cpu)
    try:
        run = TrainingRun(spec, d)
        if spec.dry_run:
            if d.main:
                print(yaml.safe_dump(run.resolved(), sort_keys=False))
                print(_describe(run))
            return None
        if d.main and run.cfg.pretrained and not run.cfg.pretrained_file:
            model_lib.create(run.cfg, len(run.classes))  # fetch hub weights now: offline fails before the run dir
        dist.barrier(d)
        created = run.create_dir()
        try:
            _train_locked(run)
        except BaseException:
            if created and d.main:
                _remove_if_untrained(run.dir)
            raise
        if d.main:
            summary = merge_run(run.dir)
            print_table(summary)
        dist.barrier(d)
        return run.dir
    finally:
        dist.cleanup(d)


def _remove_if_untrained(run_dir: Path) -> None:
    """A run this command created and that failed before any checkpoint would only block its name."""
    progress = [p for pattern in ("fold*/last.pt", "fold*/best.pt", f"fold*/{FOLD_DONE}") for p in run_dir.glob(pattern)]
    if not progress:
        shutil.rmtree(run_dir, ignore_errors=True)
        print(f"removed {run_dir}: this command made it and nothing was trained yet", flush=True)


def _train_locked(run: TrainingRun) -> None:
    """Train the run's unfinished folds, each under its own lock: a second writer of a fold is refused before
    any work (another process may train other folds of the same run, as the split-folds recipe does)."""
    d = run.d
    todo = [k for k in run.run_folds if not (run.dir / f"fold{k}" / FOLD_DONE).exists()]
    if d.main:
        print(f"run dir {run.dir}\n{_describe(run)}", flush=True)
        for k in sorted(set(run.run_folds) - set(todo)):
            print(f"fold {k}: already finished, skipped")
    locks, error = [], None
    if d.main:
        try:
            for k in todo:
                (run.dir / f"fold{k}").mkdir(exist_ok=True)
                locks.append(Lock(run.dir / f"fold{k}", f"fold {k} of run {run.dir}").acquire())
        except DlClsError as exc:
            error = str(exc)
    error = dist.broadcast(d, error)  # every rank stops if rank 0 could not lock
    try:
        if error:
            raise DlClsError(error)
        if todo:
            _train_folds(run, todo)
    finally:
        for lock in locks:
            lock.release()


@dataclass
class _Shared:
    """What every fold of a run reuses: runtime, decoded images, transform, TTA views, an upright member's pose
    step."""
    rt: loop.Runtime
    store: ImageStore
    test_store: ImageStore
    transform: object
    views: list
    pose: PoseStep | None = None


def _train_folds(run: TrainingRun, todo: list[int]) -> None:
    cfg, dd = run.cfg, run.dd
    cached = want_cache(cfg, len(run.table) + len(dd.test_ids))
    rt = loop.make_runtime(cfg, run.d, cached)
    band = cfg.crop_band
    pose = _pose_step(run, todo, rt.show) if cfg.pose == "upright" else None
    shared = _Shared(rt, ImageStore(run.table["path"].tolist(), cfg.img_size, cached, rt.show, "decode train images",
                                    band),
                     ImageStore([] if pose else run.test_paths, cfg.img_size, cached, rt.show, "decode test", band),
                     online_transform(cfg.online_aug, run.aug_dir is not None, cfg.pose),
                     [(0, False)] if pose else tta.views(cfg.tta_rotations, cfg.tta_hflip), pose)
    for k in todo:
        _train_one_fold(run, k, shared)


def _pose_step(run: TrainingRun, todo: list[int], show: bool) -> PoseStep:
    """The pose run that holds every fold out (trained on first use, then reused; `make ocr`'s holds fold 0
    only) and the test pages posed by each fold's model."""
    from dl_cls.pose.model import load_orientation, pose_settings, train_orientation

    settings = pose_settings(run.cfg.pose_model, holdout_folds=tuple(run.all_folds))

    def pose_run(log):
        return train_orientation(run.dd, run.work_dir, settings,
                                 testlike=run.cfg.testlike_config, label_fixes=run.label_fixes, log=log)

    if run.d.main:
        pose_run(print)
    dist.barrier(run.d)
    run_dir = pose_run(None)  # finished by rank 0: every rank loads it
    models = {k: load_orientation(run_dir, k) for k in todo}
    if run.d.main:
        print(f"pose step: {run_dir.name}, one pose model per fold (each held its fold out)", flush=True)
    return PoseStep(run_dir, models, posed_images(run.test_paths, run.cfg.img_size, models, show, run.cfg.crop_band))


def _train_one_fold(run: TrainingRun, k: int, shared: _Shared) -> None:
    cfg, d, dd, rt = run.cfg, run.d, run.dd, shared.rt
    fold_dir = run.dir / f"fold{k}"
    dist.barrier(d)
    rows = fold_train_rows(run.table, run.folds, k, cfg)
    check_no_leak(rows, run.folds, k)
    train_set = TrainSet(shared.store, rows.index.to_numpy(), rows["target"].map(run.local).to_numpy(),
                         shared.transform)
    val = fold_val_ids(dd, run.folds, k, cfg)
    val_paths = [str(dd.train_path(i)) for i in val["ID"]]
    val_clean = ImageStore(val_paths, cfg.img_size, True, rt.show, "decode val", cfg.crop_band).images
    posed = posed_testlike(val_paths, val["ID"].tolist(), cfg.img_size, cfg.testlike_seed, {k: shared.pose.models[k]},
                           rt.show, cfg.testlike_config, cfg.crop_band) if shared.pose else None
    val_tl = posed.images[posed.top_views(k)] if posed else testlike_images(
        val_paths, val["ID"].tolist(), cfg.img_size, cfg.testlike_seed, rt.show, cfg.testlike_config, cfg.crop_band)
    y_val = val["target"].map(run.local).to_numpy()
    meta = {"classes": run.classes, "class_names": [dd.class_names[c] for c in run.classes], "fold": k}
    res = loop.train_fold(cfg, rt, loop.FoldInputs(k, train_set, val_clean, val_tl, y_val, len(run.classes), meta),
                          fold_dir)
    dist.barrier(d)
    if posed:
        p_clean, p_views, p_test_views = _predict_fold(run, fold_dir, shared, [val_clean, posed.images,
                                                                               shared.pose.test.images])
        p_tl, p_test = posed.mix(p_views, k), shared.pose.test.mix(p_test_views, k)
    else:
        p_clean, p_tl, p_test = _predict_fold(run, fold_dir, shared, [val_clean, val_tl, shared.test_store])
    if d.main:
        info = {key: v for key, v in asdict(res).items() if key != "metrics"}
        info.update(fold=k, train_images=len(rows), val_images=len(val),
                    tta_clean_f1=macro_f1(y_val, p_clean.argmax(1)), tta_testlike_f1=macro_f1(y_val, p_tl.argmax(1)))
        if posed:
            info.update(pose_accuracy=posed.accuracy(k), pose_views_per_page=len(posed.images) / max(len(val), 1),
                        pose_run=str(shared.pose.run_dir))
        _write_fold(run, fold_dir, val["ID"], p_tl if cfg.oof_on == "testlike" else p_clean, p_test, info)
        print(f"fold {k}: best epoch {res.best_epoch}  clean F1 {res.clean_f1:.4f}  test-like F1 "
              f"{res.testlike_f1:.4f}  | with TTA: clean {info['tta_clean_f1']:.4f}  test-like "
              f"{info['tta_testlike_f1']:.4f}  ({res.train_time_s:.0f} s)"
              + (f"\n  pose step: the fold's pose model is right on {info['pose_accuracy']:.1%} of these test-like "
                 f"copies ({info['pose_views_per_page']:.2f} upright views a page)" if posed else ""), flush=True)
    dist.barrier(d)


def _predict_fold(run: TrainingRun, fold_dir: Path, shared: _Shared, image_sets: list) -> list[np.ndarray]:
    """Probabilities of each image set from the fold's best checkpoint, with TTA."""
    cfg, rt = run.cfg, shared.rt
    net = loop.load_fold_model(cfg, fold_dir / "best.pt", len(run.classes), rt.device, rt.channels_last)
    norm = loop.Normalizer(*model_lib.normalization(net), rt)
    bs = cfg.eval_batch_size or 2 * cfg.batch_size
    descs = ["OOF clean (TTA)", "OOF test-like (TTA)", "test (TTA)"]
    return [loop.predict(net, images, rt, norm, bs, shared.views, desc)[0] for images, desc in zip(image_sets, descs)]


def _write_fold(run: TrainingRun, fold_dir: Path, val_ids: pd.Series, p_oof: np.ndarray, p_test: np.ndarray,
                info: dict) -> None:
    """The fold's oof.csv and test_probs.csv, then fold.json, which marks it finished."""
    cols = prob_columns(run.classes)
    k = info["fold"]
    oof = pd.concat([pd.DataFrame({"ID": val_ids.to_numpy(), "fold": k}), pd.DataFrame(p_oof, columns=cols)], axis=1)
    test = pd.concat([pd.DataFrame({"ID": run.dd.test_ids}), pd.DataFrame(p_test, columns=cols)], axis=1)
    atomic_write_csv(oof, fold_dir / "oof.csv")
    atomic_write_csv(test, fold_dir / "test_probs.csv")
    atomic_write_text(fold_dir / FOLD_DONE, json.dumps(info, indent=2) + "\n")
    (fold_dir / "last.pt").unlink(missing_ok=True)  # the fold is complete; best.pt is what stays


# ---------------------------------------------------------------------------------------------- merge
def merge_run(run_dir: Path) -> dict:
    """Folds done so far -> oof.csv (train order), test_probs.csv (mean over folds), summary.json."""
    run_dir = Path(run_dir)
    cfg, saved = recipe_from_run(run_dir)
    done = finished_folds(run_dir)
    if not done:
        raise DlClsError(f"{run_dir}: no finished fold (fold*/{FOLD_DONE}) to merge")
    dd = load_truth(saved)
    folds_path = Path(saved.work_dir) / "folds.csv"
    if folds_path.is_file():
        check_split(run_dir, saved, load_folds(folds_path.parent, dd), folds_path)
    with Lock(run_dir, f"run {run_dir}").acquire(wait_s=60):  # two machines may finish folds at once
        oof, test, infos = _merge_tables(run_dir, done, dd)
        atomic_write_csv(oof, run_dir / "oof.csv")
        atomic_write_csv(test, run_dir / "test_probs.csv")
        summary = _summary(run_dir, cfg, saved, done, infos, oof, dd)
        atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    save_learning_curves(run_dir, done, cfg.select_metric)
    return summary


def _merge_tables(run_dir: Path, done: list[int], dd: DataDir) -> tuple[pd.DataFrame, pd.DataFrame, list[dict]]:
    infos = [json.loads((run_dir / f"fold{k}" / FOLD_DONE).read_text()) for k in done]
    oofs = [pd.read_csv(run_dir / f"fold{k}" / "oof.csv", dtype={"ID": str}) for k in done]
    tests = [pd.read_csv(run_dir / f"fold{k}" / "test_probs.csv", dtype={"ID": str}) for k in done]
    cols = prob_columns(classes_of(oofs[0].columns))
    for k, t in zip(done, tests):
        if not t["ID"].equals(tests[0]["ID"]) or prob_columns(classes_of(t.columns)) != cols:
            raise DlClsError(f"{run_dir}/fold{k}/test_probs.csv: IDs or columns differ from fold{done[0]}")
    oof = pd.concat(oofs)
    if oof["ID"].duplicated().any():
        raise DlClsError(f"{run_dir}: ID {oof['ID'][oof['ID'].duplicated()].iloc[0]} is in two folds' oof.csv")
    train = dd.train[dd.train["target"].isin(classes_of(cols))]
    order = train[train["ID"].isin(oof["ID"])]["ID"]
    oof = oof.set_index("ID").loc[order].reset_index()
    test = tests[0][["ID"]].copy()
    test[cols] = np.mean([t[cols].to_numpy() for t in tests], axis=0)
    return oof, test, infos


def _summary(run_dir: Path, cfg: TrainConfig, saved: RunConfig, done: list[int], infos: list[dict], oof: pd.DataFrame,
             dd: DataDir) -> dict:
    cols = [c for c in oof.columns if c.startswith("p_")]
    y = oof["ID"].map(dict(zip(dd.train["ID"], dd.train["target"]))).to_numpy()
    pred = np.asarray(classes_of(cols))[oof[cols].to_numpy().argmax(1)]
    keys = ["clean_f1", "testlike_f1", "tta_clean_f1", "tta_testlike_f1", "train_time_s", "train_img_s", "eval_img_s"]
    asked = _first_set(saved.folds_requested, saved.folds, done)
    return {
        "run": run_dir.name, "model": saved.model_config, "timm_name": cfg.timm_model_name,
        "classes": saved.classes, "num_classes": saved.num_classes,
        "folds_done": done, "complete": done == list(_first_set(saved.folds, done)),
        "folds_requested": asked, "requested_done": set(asked) <= set(done),
        "select_metric": cfg.select_metric, "oof_on": cfg.oof_on,
        "oof_f1": macro_f1(y, pred), "oof_rows": len(oof),
        "mean": {key: float(np.mean([i[key] for i in infos])) for key in keys},
        "total_train_time_s": float(sum(i["train_time_s"] for i in infos)),
        "per_fold": infos, "pose": cfg.pose,
        "tta_views": 1 if cfg.pose == "upright" else len(tta.views(cfg.tta_rotations, cfg.tta_hflip)),
        "pose_accuracy": _mean_of(infos, "pose_accuracy"),
        "versions": package_versions(), "git_commit": saved.git_commit,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"cpu ({platform.processor() or platform.machine()})",
        "written": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def _mean_of(infos: list[dict], key: str) -> float | None:
    values = [i[key] for i in infos if i.get(key) is not None]
    return float(np.mean(values)) if values else None


def print_table(summary: dict) -> None:
    rows = [{"fold": i["fold"], "best_epoch": i["best_epoch"], "clean_f1": i["clean_f1"],
             "testlike_f1": i["testlike_f1"], "tta_clean_f1": i["tta_clean_f1"],
             "tta_testlike_f1": i["tta_testlike_f1"], "train_s": i["train_time_s"], "train_img_s": i["train_img_s"]}
            for i in summary["per_fold"]]
    df = pd.DataFrame(rows)
    mean = df.mean(numeric_only=True).to_dict()
    mean.update(fold="mean", best_epoch="")
    df = pd.concat([df, pd.DataFrame([mean])], ignore_index=True)
    print(df.to_string(index=False, float_format=lambda v: f"{v:.4f}" if abs(v) < 10 else f"{v:.0f}"))
    how = "upright member, pose step" if summary.get("pose") == "upright" else f"TTA x{summary['tta_views']}"
    if summary.get("pose_accuracy") is not None:
        print(f"pose model right on {summary['pose_accuracy']:.1%} of the test-like copies (each fold's own model)")
    print(f"OOF macro F1 ({summary['oof_on']}, {how}): {summary['oof_f1']:.4f} over "
          f"{summary['oof_rows']} images; folds done {summary['folds_done']}"
          f"{'' if summary['complete'] else ' (incomplete: train the other folds, then dl-cls merge-folds)'}")
