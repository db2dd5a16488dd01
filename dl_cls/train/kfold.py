"""The k-fold driver: resolve the run, build each fold's leak-free data, train, predict OOF + test with TTA,
merge folds into the run's oof.csv / test_probs.csv / summary.json."""
from __future__ import annotations

import json
import platform
import subprocess
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from dl_cls.data.contract import DataDir, load_data
from dl_cls.data.folds import ensure_folds, load_folds, make_folds
from dl_cls.errors import DlClsError
from dl_cls.io import atomic_write_csv, atomic_write_text, create_run_dir
from dl_cls.train import dist, loop, tta
from dl_cls.train import model as model_lib
from dl_cls.train.config import load_train_config, parse_focus, recipe_dict, recipe_from_run
from dl_cls.train.curves import save_learning_curves
from dl_cls.train.data import (ImageStore, TrainSet, check_no_leak, fold_train_rows, fold_val_ids, load_table,
                               online_transform, select_rows, testlike_images, want_cache)

FOLD_DONE = "fold.json"


@dataclass
class RunSpec:
    """What `dl-cls train` was asked to do (CLI arguments, resolved)."""
    model: str | None  # configs/models/NAME.yaml or a YAML path; None with resume
    data_dir: str | None = None
    work_dir: str = "work"
    aug_dir: str | None = None
    folds: list[int] | None = None
    name: str | None = None
    resume: str | None = None
    dry_run: bool = False
    label_fixes: str = "default"
    overrides: list[str] | dict | None = None


def prob_columns(classes: list[int]) -> list[str]:
    return [f"p_{c}" for c in classes]


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def package_versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("torch", "timm", "albumentations", "numpy", "pandas", "scikit-learn", "opencv-python-headless"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def resolve_run_dir(run: str, work_dir: str | Path) -> Path:
    """RUN: a path to a run dir, or a name under WORK/runs/."""
    path = Path(run)
    if (path / "config.yaml").is_file():
        return path
    under = Path(work_dir) / "runs" / run
    if (under / "config.yaml").is_file():
        return under
    raise DlClsError(f"run {run!r} not found: neither {path} nor {under} holds a config.yaml")


def _check_resume_args(spec: RunSpec, saved: dict, run_dir: Path) -> None:
    """A resumed run keeps its saved recipe and dirs; arguments that repeat them are fine (make passes them),
    arguments that would change them are an error."""
    problems = []
    if spec.overrides:
        problems.append(f"key=value overrides {spec.overrides}")
    if spec.model and Path(spec.model).stem != saved.get("model_config"):
        problems.append(f"--model {spec.model} (run: {saved.get('model_config')})")
    for flag, given, key in (("--data", spec.data_dir, "data_dir"), ("--aug", spec.aug_dir, "aug_dir")):
        if given and str(Path(given).resolve()) != saved.get(key):
            problems.append(f"{flag} {given} (run: {saved.get(key)})")
    if problems:
        raise DlClsError(f"--resume continues {run_dir} with its saved config.yaml; these arguments would change it: "
                         + "; ".join(problems) + ". Drop them, or start a new run")


# ---------------------------------------------------------------------------------------------- the run
class Run:
    """Resolved state shared by the folds: config, data, folds, run dir, image stores."""

    def __init__(self, spec: RunSpec, d: dist.Dist):
        self.spec, self.d = spec, d
        if spec.resume:
            self.dir = resolve_run_dir(spec.resume, spec.work_dir)
            self.cfg, saved = recipe_from_run(self.dir)
            self.data_dir, self.aug_dir = Path(saved["data_dir"]), saved["aug_dir"] and Path(saved["aug_dir"])
            self.work_dir, self.label_fixes = Path(saved["work_dir"]), saved.get("label_fixes", "default")
            _check_resume_args(spec, saved, self.dir)
            self.model_name = saved.get("model_config", self.cfg.timm_name)
        else:
            if not spec.model:
                raise DlClsError("--model NAME is required (configs/models/NAME.yaml or a YAML path)")
            self.cfg = load_train_config(spec.model, spec.overrides)
            self.data_dir = Path(spec.data_dir or "data")
            self.aug_dir = Path(spec.aug_dir) if spec.aug_dir else None
            self.work_dir, self.label_fixes = Path(spec.work_dir), spec.label_fixes
            self.model_name = Path(spec.model).stem
            self.dir = None
        cfg = self.cfg
        model_lib.check_weights_source(cfg)
        self.dd: DataDir = load_data(self.data_dir, self.label_fixes)
        # an existing folds.csv is shared whatever n_folds says: every model's OOF rows must line up
        if (self.work_dir / "folds.csv").exists():
            self.folds = load_folds(self.work_dir, self.dd)
        elif spec.dry_run:  # a dry run writes nothing
            self.folds = make_folds(self.dd.train, cfg.n_folds, cfg.folds_seed)
        else:
            if d.main:
                ensure_folds(self.work_dir, self.dd, cfg.n_folds, cfg.folds_seed)
            dist.barrier(d)
            self.folds = load_folds(self.work_dir, self.dd)
        self.all_folds = sorted(self.folds["fold"].unique().tolist())
        wanted = spec.folds if spec.folds is not None else self.all_folds
        unknown = sorted(set(wanted) - set(self.all_folds))
        if unknown:
            raise DlClsError(f"--folds {','.join(map(str, unknown))}: {self.work_dir / 'folds.csv'} has folds "
                             f"{','.join(map(str, self.all_folds))}")
        self.run_folds = sorted(set(wanted))
        K = self.dd.num_classes
        if cfg.classes is not None:
            bad = sorted(c for c in cfg.classes if not 0 <= c < K)
            if bad:
                raise DlClsError(f"classes {bad} are not in {self.data_dir / 'meta.csv'} (0..{K - 1})")
            self.classes = cfg.classes = sorted(set(cfg.classes))
        else:
            self.classes = list(range(K))
        focus, _ = parse_focus(cfg.focus)
        bad = sorted(c for c in focus if c not in self.classes)
        if bad:
            raise DlClsError(f"focus={cfg.focus}: class(es) {bad} are not trained by this run (classes 0..{K - 1}"
                             f"{' subset ' + str(self.classes) if cfg.classes else ''}); pass --focus CLASSES:FACTOR")
        self.local = {c: j for j, c in enumerate(self.classes)}  # original target -> model output index
        if cfg.fraction < 1 and self.aug_dir is None:
            raise DlClsError(f"fraction={cfg.fraction} samples the copies of an augmented set: pass --aug DIR")
        self.table = select_rows(load_table(self.dd, self.aug_dir), cfg).reset_index(drop=True)

    # ------------------------------------------------------------------ description
    def resolved(self) -> dict:
        return {**recipe_dict(self.cfg), "model_config": self.model_name,
                "data_dir": str(self.data_dir.resolve()), "work_dir": str(self.work_dir.resolve()),
                "aug_dir": str(self.aug_dir.resolve()) if self.aug_dir else None,
                "label_fixes": str(self.label_fixes), "num_classes": self.dd.num_classes,
                "class_names": self.dd.class_names, "folds": self.all_folds, "git_commit": git_commit()}

    def fold_counts(self) -> pd.DataFrame:
        rows = []
        for k in self.run_folds:
            tr = fold_train_rows(self.table, self.folds, k, self.cfg)
            val = fold_val_ids(self.dd, self.folds, k, self.cfg)
            rows.append({"fold": k, "train_images": len(tr), "train_sources": tr["source_id"].nunique(),
                         "val_images": len(val)})
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ artifacts
    def create_dir(self) -> None:
        if self.dir is not None:  # resume
            return
        name = self.spec.name or f"{self.model_name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
        name = dist.broadcast(self.d, name)  # ranks may disagree on the clock's second
        self.dir = self.work_dir / "runs" / name
        if self.d.main:
            create_run_dir(self.dir)
            atomic_write_text(self.dir / "config.yaml", yaml.safe_dump(self.resolved(), sort_keys=False))
        dist.barrier(self.d)


def _describe(run: Run) -> str:
    counts = run.fold_counts()
    source = f"AUG {run.aug_dir}" if run.aug_dir else "originals (no AUG set) + online augmentation"
    head = (f"model {run.model_name} ({run.cfg.timm_model_name}), {len(run.classes)} classes"
            f"{' (subset ' + ','.join(map(str, run.classes)) + ')' if run.cfg.classes else ''}, training on {source}")
    return head + "\n" + counts.to_string(index=False)


def train(spec: RunSpec, force_cpu: bool = False) -> Path | None:
    """Run (or resume) the folds; returns the run dir (None for a dry run)."""
    d = dist.setup(force_cpu)
    try:
        run = Run(spec, d)
        if spec.dry_run:
            if d.main:
                print(yaml.safe_dump(run.resolved(), sort_keys=False))
                print(_describe(run))
            return None
        if d.main and run.cfg.pretrained and not run.cfg.pretrained_file:
            model_lib.create(run.cfg, len(run.classes))  # fetch hub weights now: offline fails before the run dir
        dist.barrier(d)
        run.create_dir()
        if d.main:
            print(f"run dir {run.dir}\n{_describe(run)}", flush=True)
        _train_folds(run)
        if d.main:
            summary = merge_run(run.dir)
            print_table(summary)
        dist.barrier(d)
        return run.dir
    finally:
        dist.cleanup(d)


def _train_folds(run: Run) -> None:
    cfg, d, dd = run.cfg, run.d, run.dd
    cached = want_cache(cfg, len(run.table) + len(dd.test_ids))
    rt = loop.make_runtime(cfg, d, cached)
    todo = [k for k in run.run_folds if not (run.dir / f"fold{k}" / FOLD_DONE).exists()]
    for k in sorted(set(run.run_folds) - set(todo)):
        if d.main:
            print(f"fold {k}: already finished, skipped")
    if not todo:
        return
    store = ImageStore(run.table["path"].tolist(), cfg.img_size, cached, rt.show, "decode train images")
    test_store = ImageStore([str(dd.test_path(i)) for i in dd.test_ids], cfg.img_size, cached, rt.show, "decode test")
    transform = online_transform(cfg.online_aug, run.aug_dir is not None)
    views = tta.views(cfg.tta_rotations, cfg.tta_hflip)
    cols = prob_columns(run.classes)
    for k in todo:
        fold_dir = run.dir / f"fold{k}"
        if d.main:
            fold_dir.mkdir(exist_ok=True)
        dist.barrier(d)
        rows = fold_train_rows(run.table, run.folds, k, cfg)
        check_no_leak(rows, run.folds, k)
        labels = rows["target"].map(run.local).to_numpy()
        train_set = TrainSet(store, rows.index.to_numpy(), labels, transform)
        val = fold_val_ids(dd, run.folds, k, cfg)
        val_paths = [str(dd.train_path(i)) for i in val["ID"]]
        val_clean = ImageStore(val_paths, cfg.img_size, True, rt.show, "decode val")
        val_tl = testlike_images(val_paths, val["ID"].tolist(), cfg.img_size, cfg.testlike_seed, rt.show)
        y_val = val["target"].map(run.local).to_numpy()
        meta = {"classes": run.classes, "class_names": [dd.class_names[c] for c in run.classes], "fold": k}
        fi = loop.FoldInputs(k, train_set, val_clean.images, val_tl, y_val, len(run.classes), meta)
        res = loop.train_fold(cfg, rt, fi, fold_dir)

        # OOF + test probabilities from the best checkpoint, with TTA
        dist.barrier(d)
        net = loop.load_fold_model(cfg, fold_dir / "best.pt", len(run.classes), rt.device, rt.channels_last)
        norm = loop.Normalizer(*model_lib.normalization(net), rt)
        bs = cfg.eval_batch_size or 2 * cfg.batch_size
        p_clean, _ = loop.predict(net, val_clean.images, rt, norm, bs, views, "OOF clean (TTA)")
        p_tl, _ = loop.predict(net, val_tl, rt, norm, bs, views, "OOF test-like (TTA)")
        p_test, _ = loop.predict(net, test_store, rt, norm, bs, views, "test (TTA)")
        if d.main:
            p_oof = p_tl if cfg.oof_on == "testlike" else p_clean
            oof = pd.concat([pd.DataFrame({"ID": val["ID"], "fold": k}), pd.DataFrame(p_oof, columns=cols)], axis=1)
            test = pd.concat([pd.DataFrame({"ID": dd.test_ids}), pd.DataFrame(p_test, columns=cols)], axis=1)
            atomic_write_csv(oof, fold_dir / "oof.csv")
            atomic_write_csv(test, fold_dir / "test_probs.csv")
            info = {k2: v for k2, v in asdict(res).items() if k2 != "metrics"}
            info.update(fold=k, train_images=len(rows), val_images=len(val),
                        tta_clean_f1=loop.macro_f1(y_val, p_clean), tta_testlike_f1=loop.macro_f1(y_val, p_tl))
            atomic_write_text(fold_dir / FOLD_DONE, json.dumps(info, indent=2) + "\n")
            (fold_dir / "last.pt").unlink(missing_ok=True)  # the fold is complete; best.pt is what stays
            print(f"fold {k}: best epoch {res.best_epoch}  clean F1 {res.clean_f1:.4f}  test-like F1 "
                  f"{res.testlike_f1:.4f}  | with TTA: clean {info['tta_clean_f1']:.4f}  test-like "
                  f"{info['tta_testlike_f1']:.4f}  ({res.train_time_s:.0f} s)", flush=True)
        dist.barrier(d)


# ---------------------------------------------------------------------------------------------- merge
def merge_run(run_dir: Path) -> dict:
    """Folds done so far -> oof.csv (train order), test_probs.csv (mean over folds), summary.json."""
    run_dir = Path(run_dir)
    cfg, saved = recipe_from_run(run_dir)
    done = sorted(int(p.parent.name[4:]) for p in run_dir.glob(f"fold*/{FOLD_DONE}"))
    if not done:
        raise DlClsError(f"{run_dir}: no finished fold (fold*/{FOLD_DONE}) to merge")
    infos = [json.loads((run_dir / f"fold{k}" / FOLD_DONE).read_text()) for k in done]
    oofs = [pd.read_csv(run_dir / f"fold{k}" / "oof.csv", dtype={"ID": str}) for k in done]
    tests = [pd.read_csv(run_dir / f"fold{k}" / "test_probs.csv", dtype={"ID": str}) for k in done]
    cols = [c for c in oofs[0].columns if c.startswith("p_")]
    for k, t in zip(done, tests):
        if not t["ID"].equals(tests[0]["ID"]) or [c for c in t.columns if c.startswith("p_")] != cols:
            raise DlClsError(f"{run_dir}/fold{k}/test_probs.csv: IDs or columns differ from fold{done[0]}")
    oof = pd.concat(oofs)
    if oof["ID"].duplicated().any():
        raise DlClsError(f"{run_dir}: ID {oof['ID'][oof['ID'].duplicated()].iloc[0]} is in two folds' oof.csv")
    dd = load_data(saved["data_dir"], saved.get("label_fixes", "default"))
    classes = [int(c[2:]) for c in cols]
    train = dd.train[dd.train["target"].isin(classes)]
    order = train[train["ID"].isin(oof["ID"])]["ID"]
    oof = oof.set_index("ID").loc[order].reset_index()
    test = tests[0][["ID"]].copy()
    test[cols] = np.mean([t[cols].to_numpy() for t in tests], axis=0)
    atomic_write_csv(oof, run_dir / "oof.csv")
    atomic_write_csv(test, run_dir / "test_probs.csv")

    y = oof["ID"].map(dict(zip(dd.train["ID"], dd.train["target"]))).to_numpy()
    pred = np.asarray(classes)[oof[cols].to_numpy().argmax(1)]
    from sklearn.metrics import f1_score

    keys = ["clean_f1", "testlike_f1", "tta_clean_f1", "tta_testlike_f1", "train_time_s", "train_img_s", "eval_img_s"]
    summary = {
        "run": run_dir.name, "model": saved.get("model_config"), "timm_name": cfg.timm_model_name,
        "classes": saved.get("classes"), "num_classes": saved.get("num_classes"),
        "folds_done": done, "complete": done == list(saved.get("folds", done)),
        "select_metric": cfg.select_metric, "oof_on": cfg.oof_on,
        "oof_f1": float(f1_score(y, pred, average="macro")), "oof_rows": len(oof),
        "mean": {key: float(np.mean([i[key] for i in infos])) for key in keys},
        "total_train_time_s": float(sum(i["train_time_s"] for i in infos)),
        "per_fold": infos, "tta_views": len(tta.views(cfg.tta_rotations, cfg.tta_hflip)),
        "versions": package_versions(), "git_commit": saved.get("git_commit"),
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"cpu ({platform.processor() or platform.machine()})",
        "written": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    save_learning_curves(run_dir, done, cfg.select_metric)
    return summary


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
    print(f"OOF macro F1 ({summary['oof_on']}, TTA x{summary['tta_views']}): {summary['oof_f1']:.4f} over "
          f"{summary['oof_rows']} images; folds done {summary['folds_done']}"
          f"{'' if summary['complete'] else ' (incomplete: train the other folds, then dl-cls merge-folds)'}")
