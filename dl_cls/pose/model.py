"""A small CNN that tells the turn x mirror of a deskewed page (8 classes, LABELS), learned from the user's own
train pages: they are upright and unmirrored by definition, so corrupting them test-like gives labels for free.

Choosing the orientation by which candidate OCRs most confidently was right on only 61% of real dense Korean pages
and costs an OCR call per candidate; this model costs a few ms per page and does not depend on what the OCR
believes.

Examples: every train page, `copies` test-like corruptions each (the calibrated config, seeded by (seed, page,
copy)), deskewed by imaging.page_geometry as the reader does, stored upright. Training shows each one in a random one of
the 8 views with the matching label, so the classes are exactly balanced and a page's identity says nothing about
its label, while skew, crop, overlap, lighting and noise stay as calibrated. Held-out accuracy: a model trained on
the pages of the other folds (WORK/folds.csv) predicts the fold's corrupted pages as the reader would see them (the
calibrated turn/mirror shares). The model of the first held-out fold is the one kept: the accuracy printed is the
accuracy of the model that reads the pages, and a second fit on every page (1.5x the time of the first) is saved.
Without held-out folds (--holdout-folds none) the model is fit on every page.

The result is a run dir WORK/runs/orient-<hash>/ (kind: orientation; config.yaml, model.pt, summary.json), written
whole under a lock and reused by a later call with the same data, split and settings.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import timm
import torch
import torch.nn.functional as F

from dl_cls.artifacts.runs import (CONFIG_FILE, RunConfig, git_commit, package_versions, read_run_config, run_path,
                                   split_hash, write_run_config)
from dl_cls.core.errors import DlClsError
from dl_cls.core.io import as_flag, atomic_write_csv, atomic_write_text, data_key, read_image, write_made_dir
from dl_cls.core.lock import Lock
from dl_cls.core.procs import default_workers, worker_pool
from dl_cls.data.contract import DataDir
from dl_cls.data.folds import ensure_folds, load_folds, train_table_hash
from dl_cls.imaging.page_geometry import deskew, estimate_skew
from dl_cls.imaging.testlike import TestlikeConfig, config_key, default_config, testlike_rng
from dl_cls.pose.data import LABELS, Example, page_examples, prepare, tta_average, view_as, views

__all__ = ["LABELS", "KIND", "OrientSettings", "OrientationModel", "train_orientation", "load_orientation",
           "orientation_run_dir"]

KIND = "orientation"  # config.yaml kind: the ledger lists it, the ensembler skips it (not a classifier)
WEIGHTS = "model.pt"
SUMMARY = "summary.json"


@dataclass(frozen=True)
class OrientSettings:
    """Everything that changes the model; hashed into the run name."""
    # timm's test_resnet (0.4 M parameters), trained from scratch. Held out on the sample (bench/orient_model.py,
    # 8-view average): 98.8% and every class but dashboards/plates >= 95% at 12 copies x 40 epochs (8 x 60: 98.9%;
    # 8 x 40: 95.9-96.8%, ID cards 89% in one run); test_byobnet (0.2 M) 94.6% at 8 copies, mobilenetv3_small_050
    # 76%. The small net needs steps more than pixels: 48, 96 and 128 px did no better
    model: str = "test_resnet"
    img_size: int = 64
    # 0 = scaled to the data: `examples` corrupted copies in all (2..12 a page) and `steps` optimizer steps in all,
    # so the cost no longer grows with the pages (1570 real pages x 12 copies x 40 epochs took 24 min on 2 cores).
    # On make demo's 408 pages the budgets give 12 copies x 40 epochs, the recipe measured at 98.8% held out.
    copies: int = 0  # test-like corruptions per page (each shown in a random one of the 8 views per epoch)
    epochs: int = 0
    examples: int = 4900
    steps: int = 4000
    batch_size: int = 32
    lr: float = 6e-3  # 96.6% held-out against 94.5% at 3e-3 (30 epochs, test_byobnet) on the sample
    seed: int = 0
    holdout_folds: tuple[int, ...] = (0,)  # folds whose pages a model trained without them predicts
    workers: int = 0  # processes making examples (0: all cores); does not change the result

    def copies_for(self, pages: int) -> int:
        return self.copies or int(np.clip(-(-self.examples // max(pages, 1)), 2, 12))

    def epochs_for(self, examples: int) -> int:
        return self.epochs or max(1, -(-self.steps // max(1, examples // self.batch_size)))

    def key(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "workers"}


def pose_settings(overrides: dict, **fixed) -> OrientSettings:
    """OrientSettings from a config mapping (e.g. a train config's pose_model); unknown keys are refused."""
    known = {f.name for f in dataclasses.fields(OrientSettings)}
    bad = sorted(set(overrides) - known)
    if bad:
        raise DlClsError(f"pose_model: unknown key(s) {', '.join(bad)}; known: {', '.join(sorted(known))}")
    return OrientSettings(**{**overrides, **fixed})


# ---------------------------------------------------------------------------------------------- examples
def _jobs(dd: DataDir, s: OrientSettings, cfg: TestlikeConfig | None) -> list[tuple]:
    """One job per page; each copy may lie under another page (the calibrated overlap), picked from (seed, page,
    copy) so the examples do not depend on worker order."""
    ids = dd.train["ID"].tolist()
    jobs, n_copies = [], s.copies_for(len(ids))
    for i, page_id in enumerate(ids):
        copies = []
        for c in range(n_copies):
            pick = testlike_rng(s.seed, f"orientation-other/{page_id}/{c}").integers(1, max(len(ids), 2))
            other = ids[(i + pick) % len(ids)] if len(ids) > 1 else None
            copies.append((c, str(dd.train_path(other)) if other else None))
        jobs.append((str(dd.train_path(page_id)), page_id, copies, s.seed, cfg, s.img_size))
    return jobs


def make_examples(dd: DataDir, s: OrientSettings, cfg: TestlikeConfig | None = None) -> list[Example]:
    """Every train page's corrupted copies, in train.csv order (in parallel when workers > 1)."""
    jobs = _jobs(dd, s, cfg)
    workers = min(s.workers or default_workers(), len(jobs))
    if workers <= 1:
        return [e for job in jobs for e in page_examples(job)]
    with worker_pool(workers) as pool:
        return [e for part in pool.imap(page_examples, jobs, chunksize=4) for e in part]


# ---------------------------------------------------------------------------------------------- model
def _net(model: str) -> torch.nn.Module:
    return timm.create_model(model, pretrained=False, num_classes=len(LABELS), in_chans=1)


def _tensor(x: np.ndarray) -> torch.Tensor:
    """uint8 (N, S, S) -> float (N, 1, S, S), each image standardised: lighting and contrast carry no orientation."""
    t = torch.from_numpy(np.ascontiguousarray(x)).float().unsqueeze(1)
    mean = t.mean(dim=(2, 3), keepdim=True)
    std = t.std(dim=(2, 3), keepdim=True)
    return (t - mean) / (std + 1.0)


def _views(x_upright: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return np.stack([view_as(x, int(lab)) for x, lab in zip(x_upright, labels)])


def _device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def fit(x_upright: np.ndarray, s: OrientSettings, seed: int, log=None, desc: str = "pose model") -> torch.nn.Module:
    """Train on upright examples, each epoch every example in a random view (labels balanced per epoch); on the
    GPU when there is one. `log` gets a line per epoch. Returns the model on the CPU."""
    torch.manual_seed(seed)
    rng = np.random.default_rng([s.seed, seed, 11])
    device = _device()
    net = _net(s.model).to(device)
    n, bs = len(x_upright), min(s.batch_size, len(x_upright))
    epochs, batches = s.epochs_for(n), max(1, n // bs)
    opt = torch.optim.AdamW(net.parameters(), lr=s.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=s.lr, total_steps=epochs * batches, pct_start=0.15)
    net.train()
    t0 = time.time()
    for epoch in range(epochs):
        order = rng.permutation(n)
        labels = rng.permutation(np.resize(np.arange(len(LABELS)), n))
        total = 0.0
        for b in range(batches):  # full batches only: BatchNorm and a steady step count
            idx = order[b * bs:(b + 1) * bs]
            x = _tensor(_views(x_upright[idx], labels[idx])).to(device)
            loss = F.cross_entropy(net(x), torch.from_numpy(labels[idx]).long().to(device), label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach())
        if log:
            log(f"{desc}: epoch {epoch + 1}/{epochs}, loss {total / batches:.3f}, {time.time() - t0:.0f} s")
    return net.cpu().eval()


@torch.inference_mode()
def _probs(net: torch.nn.Module, x: np.ndarray, batch: int = 64) -> np.ndarray:
    out = [F.softmax(net(_tensor(x[i:i + batch])), dim=1).double().numpy() for i in range(0, len(x), batch)]
    return np.concatenate(out) if out else np.zeros((0, len(LABELS)))


class OrientationModel:
    """A loaded orientation model: `predict(pages)` -> (N, 8) probabilities over LABELS."""

    def __init__(self, net: torch.nn.Module, img_size: int, run_dir: Path | None = None):
        self.net, self.img_size, self.run_dir = net.eval(), int(img_size), run_dir
        self.labels = list(LABELS)

    def predict(self, pages: list[np.ndarray], tta: bool = False) -> np.ndarray:
        """Deskewed pages (RGB or grey uint8, any size) -> (N, 8) probabilities, rows summing to 1; column i is
        LABELS[i], the (orientation, mirrored) to pass to page_geometry.orient. `tta`: averaged over the 8 views
        of each page (8x the work, still a few ms per page)."""
        if len(pages) == 0:
            return np.zeros((0, len(LABELS)))
        return predict_inputs(self.net, np.stack([prepare(p, self.img_size) for p in pages]), tta)


POSE_SIDE = 1024  # page_poses reads pages at most this long


def page_poses(model: OrientationModel, paths) -> list[tuple[int, bool]]:
    """The (orientation, mirrored) the model picks for each image file, deskewed as the reader deskews and averaged
    over the 8 views as the reader uses it: the pose mix of a folder of test pages, label-free."""
    poses = []
    for path in paths:
        img = read_image(path)
        scale = POSE_SIDE / max(img.shape[:2])
        if scale < 1:  # the model sees 64 px: a large photo is brought down before the deskew rotates it
            img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        probs = model.predict([deskew(img, estimate_skew(img))], tta=True)[0]
        poses.append(LABELS[int(probs.argmax())])
    return poses


def predict_inputs(net: torch.nn.Module, x: np.ndarray, tta: bool) -> np.ndarray:
    """(N, S, S) model inputs -> (N, 8) probabilities, with or without the 8-view average."""
    if not tta:
        return _probs(net, x)
    probs = _probs(net, np.concatenate([views(xi) for xi in x])).reshape(len(x), len(LABELS), len(LABELS))
    return np.stack([tta_average(p) for p in probs])



# ---------------------------------------------------------------------------------------------- accuracy
def score_table(rows: pd.DataFrame) -> dict:
    """Accuracy overall and split by what may explain an error (rows: label, pred, deskew_error, skew_deg,
    class_name): a deskew that left the page near 45 degrees, a strong skew, mirror-only and turn-only errors,
    each class."""
    ok = rows["pred"] == rows["label"]
    ok_tta = rows["pred_tta"] == rows["label"] if "pred_tta" in rows else None  # the 8-view average
    turn_ok = rows["pred"] % 4 == rows["label"] % 4
    mirror_ok = (rows["pred"] >= 4) == (rows["label"] >= 4)

    def acc(mask) -> dict:
        out = {"n": int(mask.sum()), "accuracy": round(float(ok[mask].mean()), 4) if mask.any() else None}
        if ok_tta is not None:
            out["accuracy_tta"] = round(float(ok_tta[mask].mean()), 4) if mask.any() else None
        return out

    every = pd.Series(True, index=rows.index)
    return {**acc(every), "turn_accuracy": round(float(turn_ok.mean()), 4) if len(rows) else None,
            "mirror_accuracy": round(float(mirror_ok.mean()), 4) if len(rows) else None,
            "deskew_off_over_10deg": acc(rows["deskew_error"] > 10),
            "deskew_within_10deg": acc(rows["deskew_error"] <= 10),
            "skew_over_30deg": acc(rows["skew_deg"].abs() > 30),
            "by_label": {f"{o}{'m' if m else ''}": acc(rows["label"] == i) for i, (o, m) in enumerate(LABELS)},
            "by_class": {str(c): acc(rows["class_name"] == c) for c in sorted(rows["class_name"].unique())}}


def _rows(examples: list[Example], probs: np.ndarray, extra: dict) -> pd.DataFrame:
    return pd.DataFrame({"ID": [e.page_id for e in examples], "copy": [e.copy for e in examples], **extra,
                         "label": [e.label for e in examples], "pred": probs.argmax(1) if len(probs) else [],
                         "p_max": probs.max(1).round(4) if len(probs) else [],
                         "skew_deg": [round(e.skew_deg, 2) for e in examples],
                         "deskew_error": [round(e.deskew_error, 2) for e in examples]})


def holdout(examples: list[Example], dd: DataDir, folds: pd.DataFrame,
            s: OrientSettings, log=None) -> tuple[pd.DataFrame, dict[int, torch.nn.Module]]:
    """Per held-out fold: fit on the other folds' pages, predict this fold's pages as the reader sees them.
    Returns the predictions and each held-out fold's model (the first is the one the reader uses)."""
    fold_of = dict(zip(folds["ID"], folds["fold"].astype(int)))
    class_of = dict(zip(dd.meta["target"], dd.meta["class_name"]))
    names = {i: class_of.get(t, str(t)) for i, t in zip(dd.train["ID"], dd.train["target"])}
    parts, nets = [], {}
    for k in s.holdout_folds:
        held = np.array([fold_of[e.page_id] == k for e in examples])
        if held.all() or not held.any():
            raise DlClsError(f"holdout fold {k}: WORK/folds.csv has folds {sorted(set(fold_of.values()))}")
        net = fit(np.stack([e.x_upright for e, h in zip(examples, held) if not h]), s, seed=k + 1, log=log,
                  desc=f"orient: model without fold {k}")
        nets[k] = net
        test = [e for e, h in zip(examples, held) if h]
        x = np.stack([view_as(e.x_upright, e.label) for e in test])
        tta = predict_inputs(net, x, tta=True).argmax(1)  # what the reader uses (ReadSettings.orient_tta)
        parts.append(_rows(test, _probs(net, x), {"fold": k, "class_name": [names[e.page_id] for e in test],
                                                   "pred_tta": tta}))
    return pd.concat(parts, ignore_index=True), nets


# ---------------------------------------------------------------------------------------------- run dir
def _identity(dd: DataDir, folds: pd.DataFrame, s: OrientSettings, cfg: TestlikeConfig, label_fixes) -> dict:
    """What the run depends on: a re-run with the same identity reuses it."""
    return {"data_dir": data_key(dd.root), "train_hash": train_table_hash(dd.train),
            "split_hash": split_hash(folds), "label_fixes": str(label_fixes), "settings": s.key(),
            "testlike": config_key(cfg)}


def run_name(identity: dict) -> str:
    text = json.dumps(identity, sort_keys=True, default=str)
    return "orient-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def is_finished(run_dir) -> bool:
    """A complete orientation run: its summary says so (the dir is only ever put in place whole)."""
    try:
        summary = json.loads((Path(run_dir) / SUMMARY).read_text(encoding="utf-8"))
        return bool(summary.get("complete")) and read_run_config(run_dir).kind == KIND
    except (OSError, ValueError, DlClsError):
        return False


def _config(identity: dict, work, s: OrientSettings, testlike: str | None) -> RunConfig:
    data = {"kind": KIND, "data_dir": identity["data_dir"], "label_fixes": identity["label_fixes"],
            "folds": list(s.holdout_folds), "split_hash": identity["split_hash"], "model_config": s.model,
            "work_dir": str(Path(work).resolve()), "git_commit": git_commit(), "train_hash": identity["train_hash"],
            **s.key(), "holdout_folds": list(s.holdout_folds), "testlike": testlike or "default",
            "labels": [[o, m] for o, m in LABELS]}
    return RunConfig.from_dict(data, "orientation run config")


def _folds(work, dd: DataDir) -> pd.DataFrame:
    """WORK/folds.csv, made with the defaults on first use (as `dl-cls train` does): every stage shares it."""
    return load_folds(work, dd) if (Path(work) / "folds.csv").is_file() else ensure_folds(work, dd)


def _plan(dd, work, s: OrientSettings, testlike: str | None, label_fixes):
    """(data dir, folds, corruption config, identity, run dir) of a run; nothing is trained or written."""
    from dl_cls.data.contract import load_data
    from dl_cls.imaging.testlike import load_testlike_config

    dd = dd if isinstance(dd, DataDir) else load_data(dd, label_fixes)
    folds = _folds(work, dd)
    cfg = load_testlike_config(testlike) if testlike else default_config()
    identity = _identity(dd, folds, s, cfg, label_fixes)
    return dd, folds, cfg, identity, run_path(work, run_name(identity))


def orientation_run_dir(dd, work, settings: OrientSettings | None = None, testlike: str | None = None,
                        label_fixes="default") -> Path:
    """Where train_orientation puts (or finds) the run of these data, split and settings."""
    return _plan(dd, work, settings or OrientSettings(), testlike, label_fixes)[-1]


def train_orientation(dd, work, settings: OrientSettings | None = None, testlike: str | None = None,
                      label_fixes="default", log=None) -> Path:
    """The orientation run dir for this data dir, split and settings: WORK/runs/orient-<hash>/, reused when a
    finished one exists, else trained and written whole. A second process writing the same run is refused.
    `dd`: a DataDir or a data dir path; `testlike`: a test-like config file (default: the calibrated one)."""
    s = settings or OrientSettings()
    dd, folds, cfg, identity, out = _plan(dd, work, s, testlike, label_fixes)
    if is_finished(out):
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with Lock(out.parent, f"orientation run {out}", name=f".{out.name}.lock"):
        if is_finished(out):  # another process finished it while we waited for the lock
            return out
        if out.exists():
            raise DlClsError(f"{out} exists but is not a finished orientation run; outputs are never "
                             "overwritten: delete it yourself to train it again")
        _build(out, dd, work, folds, s, cfg, (identity, testlike), log or (lambda msg: None))
    return out


def _build(out: Path, dd: DataDir, work, folds, s: OrientSettings, cfg, ident: tuple, log) -> None:
    identity, testlike = ident
    t0 = time.time()
    examples = make_examples(dd, s, cfg)
    t1 = time.time()
    log(f"orient: {len(examples)} examples from {len(dd.train)} train pages ({t1 - t0:.0f} s)")
    held, nets = holdout(examples, dd, folds, s, log) if s.holdout_folds else (pd.DataFrame(), {})
    t2 = time.time()
    if len(held):
        log(f"orient: held-out folds {list(s.holdout_folds)}: {(held['pred'] == held['label']).mean():.2%} of "
            f"{len(held)} ({t2 - t1:.0f} s); the model without fold {s.holdout_folds[0]} is the one kept")
    else:
        nets = {None: fit(np.stack([e.x_upright for e in examples]), s, seed=0, log=log)}
        log(f"orient: model fit on every page ({time.time() - t2:.0f} s)")
    t3 = time.time()
    n_fit = len(examples) - int((held["fold"] == s.holdout_folds[0]).sum()) if len(held) else len(examples)
    summary = {"run": out.name, "kind": KIND, "model": s.model, "img_size": s.img_size,
               "copies": s.copies_for(len(dd.train)), "epochs": s.epochs_for(n_fit),
               "seed": s.seed, "train_pages": len(dd.train), "examples": len(examples),
               "holdout_folds": list(s.holdout_folds), "holdout": score_table(held) if len(held) else None,
               "seconds": {"examples": round(t1 - t0, 1), "holdout": round(t2 - t1, 1), "final": round(t3 - t2, 1)},
               "kept": f"held out fold {s.holdout_folds[0]}" if len(held) else "fit on every page",
               "total_train_time_s": round(t3 - t0, 1), "folds_done": list(s.holdout_folds), "complete": True,
               "versions": package_versions(), "git_commit": git_commit(),
               "written": time.strftime("%Y-%m-%dT%H:%M:%S")}

    def write(tmp: Path) -> dict:
        write_run_config(tmp, _config(identity, work, s, testlike))
        for i, net in enumerate(nets.values()):  # the first is the reader's; the others pose their own fold
            torch.save(net.state_dict(), tmp / (WEIGHTS if i == 0 else fold_weights(list(nets)[i])))
        if len(held):
            atomic_write_csv(held, tmp / "holdout.csv")
        atomic_write_text(tmp / SUMMARY, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
        return {"run": out.name, "train_hash": identity["train_hash"], "split_hash": identity["split_hash"]}

    write_made_dir(out, "orientation run", write)


def fold_weights(fold: int) -> str:
    return f"model_fold{fold}.pt"


def load_orientation(run_dir, fold: int | None = None) -> OrientationModel:
    """The model of a finished orientation run dir, on CPU, in eval mode (cheap to call per worker process).
    `fold`: the model that did not see that fold's pages (a run with that fold in its holdout_folds)."""
    run_dir = Path(run_dir)
    config = read_run_config(run_dir)
    if config.kind != KIND:
        raise DlClsError(f"{run_dir / CONFIG_FILE}: kind {config.kind!r}, not an orientation run")
    held = [int(k) for k in config.get("holdout_folds") or []]
    if fold is not None and fold not in held:
        raise DlClsError(f"{run_dir}: no pose model held out fold {fold} (held out: {held or 'none'})")
    weights = WEIGHTS if fold is None or fold == held[0] else fold_weights(fold)
    net = _net(config.get("model"))
    try:
        net.load_state_dict(torch.load(run_dir / weights, map_location="cpu", weights_only=True))
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds (RuntimeError, EOFError, UnpicklingError)
        # torch's own message is long and was cut mid-word: its type says enough
        raise DlClsError(f"{run_dir / weights}: not a checkpoint dl_cls can read ({type(exc).__name__}): the "
                         f"orientation model is damaged or cut; delete {run_dir} and run again to retrain it "
                         "(dl-cls orient)") from None
    return OrientationModel(net, int(config.get("img_size")), run_dir)


def score_test_images(model: OrientationModel, dd: DataDir, truth_path) -> tuple[dict, float]:
    """Accuracy on the test images of a data dir whose corruption geometry is known (ID,turn,flip_h,flip_v,skew_deg),
    each deskewed as the reader does; and the model's ms per page on one thread (predict only)."""
    from dl_cls.core.io import read_csv, read_image
    from dl_cls.imaging.page_geometry import deskew, estimate_skew
    from dl_cls.pose.data import deskew_error, label_of

    truth = read_csv(truth_path)
    labels_path = Path(dd.root) / "test_labels.csv"
    class_of = dict(zip(dd.meta["target"], dd.meta["class_name"]))
    targets = dict(zip(*read_csv(labels_path)[["ID", "target"]].to_numpy().T)) if labels_path.is_file() else {}
    rows, spent, threads = [], 0.0, torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for r in truth.itertuples(index=False):
            geometry = {"turn": int(r.turn), "flip_h": as_flag(r.flip_h), "flip_v": as_flag(r.flip_v),
                        "skew_deg": float(r.skew_deg)}
            img = read_image(dd.test_path(r.ID))
            skew = estimate_skew(img)
            page = deskew(img, skew)
            t = time.perf_counter()
            probs = model.predict([page])[0]
            spent += time.perf_counter() - t
            rows.append({"label": label_of(geometry, skew), "pred": int(probs.argmax()),
                         "pred_tta": int(model.predict([page], tta=True)[0].argmax()),
                         "skew_deg": geometry["skew_deg"],
                         "deskew_error": deskew_error(geometry, skew),
                         "class_name": class_of.get(int(targets[r.ID]), "?") if r.ID in targets else "?"})
    finally:
        torch.set_num_threads(threads)
    return score_table(pd.DataFrame(rows)), 1000 * spent / max(len(rows), 1)
