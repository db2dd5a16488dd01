"""One fold: train with timm's Mixup/SoftTargetCrossEntropy/AdamW/cosine/EMA, validate clean + test-like every epoch,
keep the best checkpoint, stop early, resume from last.pt.

Every epoch re-seeds torch/numpy/random from (seed, fold, epoch) and the sampler derives each image's shuffle
position and augmentation from (seed, epoch), so an epoch run after a resume is the epoch an uninterrupted run
would have run.
"""
from __future__ import annotations

import contextlib
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from timm.data.mixup import Mixup, mixup_target
from timm.loss import SoftTargetCrossEntropy
from timm.optim import create_optimizer_v2
from timm.scheduler import create_scheduler_v2
from timm.utils import ModelEmaV3
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from dl_cls.artifacts.runs import macro_f1
from dl_cls.core.errors import DlClsError
from dl_cls.core.io import atomic_write_csv, atomic_write_with
from dl_cls.train import dist, model as model_lib, tta
from dl_cls.train.config import TrainConfig, recipe_dict
from dl_cls.train.data import EvalSet, SeededSampler, TrainSet

METRIC_COLUMNS = ["epoch", "lr", "train_loss", "clean_f1", "testlike_f1", "train_img_s", "eval_img_s", "epoch_s"]


# ---------------------------------------------------------------------------------------------- runtime
@dataclass
class Runtime:
    d: dist.Dist
    amp_dtype: torch.dtype | None
    channels_last: bool
    num_workers: int
    show: bool = True  # progress bars (rank 0, in a terminal)

    @property
    def device(self) -> torch.device:
        return self.d.device

    def autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)


def make_runtime(cfg: TrainConfig, d: dist.Dist, cached: bool) -> Runtime:
    cuda = d.device.type == "cuda"
    if cfg.amp == "auto":
        amp = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if cuda else None
    else:
        amp = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}[cfg.amp]
        if amp is torch.float16 and not cuda:
            amp = torch.bfloat16  # fp16 autocast needs a GPU; CPU autocast speaks bf16
    if cuda:
        torch.backends.cudnn.benchmark = True  # fixed input size: let cuDNN pick the fastest kernels once
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    workers = cfg.num_workers
    if workers < 0:
        cores = os.cpu_count() or 1
        # CPU: the model needs every core and cached images cost ~0.1 ms each, so load in the main process
        workers = min(8, max(1, cores // max(1, d.world) - 1)) if cuda else (0 if cached else min(2, cores))
    # bars only on rank 0 and in a terminal: in a log file (nohup, CI, the demo) the per-epoch lines say it all
    return Runtime(d, amp, cfg.channels_last and cuda, workers, show=d.main and sys.stderr.isatty())


def seed_everything(*parts: int) -> None:
    s = int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])
    random.seed(s)
    np.random.seed(s)
    torch.manual_seed(s)


def loader(dataset, rt: Runtime, batch_size: int, sampler, drop_last: bool) -> DataLoader:
    kw = dict(batch_size=batch_size, sampler=sampler, drop_last=drop_last, num_workers=rt.num_workers,
              pin_memory=rt.device.type == "cuda")
    if rt.num_workers > 0:
        kw.update(persistent_workers=True, prefetch_factor=4)
    return DataLoader(dataset, **kw)


class Normalizer:
    """uint8 NCHW on the host -> normalised float on the device (channels_last on CUDA)."""

    def __init__(self, mean, std, rt: Runtime):
        self.mean = torch.tensor(mean, device=rt.device).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(std, device=rt.device).view(1, 3, 1, 1) * 255
        self.rt = rt

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.rt.device, non_blocking=True).float().sub_(self.mean).div_(self.std)
        return x.contiguous(memory_format=torch.channels_last) if self.rt.channels_last else x


# ---------------------------------------------------------------------------------------------- prediction
@torch.no_grad()
def predict(model, images, rt: Runtime, norm: Normalizer, batch_size: int, views, desc: str = "eval"):
    """(probs (N, K) float32 in image order, images/s). Images are sharded over ranks and gathered."""
    model.eval()
    n = len(images)
    mine = list(range(rt.d.rank, n, rt.d.world))
    # in-RAM images need no worker processes (starting them would cost more than the copy they save)
    in_ram = isinstance(images, np.ndarray) or getattr(images, "images", None) is not None
    eval_rt = Runtime(rt.d, rt.amp_dtype, rt.channels_last, 0, rt.show) if in_ram else rt
    dl = loader(EvalSet(images), eval_rt, batch_size, mine, drop_last=False)
    out_idx, out_p = [], []
    t0 = time.perf_counter()
    for x, idx in tqdm(dl, desc=desc, disable=not rt.show, leave=False):
        with rt.autocast():
            p = tta.predict(model, norm(x), views)
        out_idx.append(idx.numpy())
        out_p.append(p.cpu().numpy())
    elapsed = time.perf_counter() - t0
    idx = np.concatenate(out_idx) if out_idx else np.zeros(0, int)
    probs = np.concatenate(out_p) if out_p else None
    parts = dist.gather(rt.d, (idx, probs))
    k = next(p.shape[1] for _, p in parts if p is not None)
    full = np.zeros((n, k), np.float32)
    for i, p in parts:
        if p is not None:
            full[i] = p
    rate = n * len(views) / max(max(dist.gather(rt.d, elapsed)), 1e-9)
    return full, rate


# ---------------------------------------------------------------------------------------------- checkpoints
def save_atomic(obj, path: Path) -> None:
    """torch.save through dl_cls.core.io's temp-file-and-rename writer: a crash never leaves half a checkpoint."""
    atomic_write_with(path, lambda fh: torch.save(obj, fh))


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ---------------------------------------------------------------------------------------------- the recipe
class Recipe:
    """timm's AdamW + cosine-with-warmup + Mixup/CutMix + SoftTargetCrossEntropy + EMA, AMP and grad accumulation /
    clipping around one model. `step` is one micro-batch; the bench times exactly this."""

    def __init__(self, cfg: TrainConfig, rt: Runtime, net: torch.nn.Module, model: torch.nn.Module,
                 num_classes: int, updates_per_epoch: int):
        self.cfg, self.rt, self.net, self.model, self.num_classes = cfg, rt, net, model, num_classes
        self.norm = Normalizer(*model_lib.normalization(net), rt)
        self.optimizer = create_optimizer_v2(net, opt=cfg.optimizer, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.scheduler, _ = create_scheduler_v2(
            self.optimizer, sched=cfg.scheduler, num_epochs=cfg.epochs, warmup_epochs=cfg.warmup_epochs,
            warmup_lr=cfg.warmup_lr, min_lr=cfg.min_lr, decay_epochs=max(1, cfg.epochs), step_on_epochs=False,
            updates_per_epoch=updates_per_epoch)
        # fp16 needs loss scaling; bf16 and fp32 do not (a disabled scaler passes everything through)
        self.scaler = torch.amp.GradScaler("cuda", enabled=rt.amp_dtype is torch.float16 and rt.device.type == "cuda")
        self.ema = ModelEmaV3(net, decay=cfg.ema_decay, use_warmup=True) if cfg.ema else None
        self.mixup = None
        if (cfg.mixup_alpha > 0 or cfg.cutmix_alpha > 0) and cfg.mixup_prob > 0:
            self.mixup = Mixup(mixup_alpha=cfg.mixup_alpha, cutmix_alpha=cfg.cutmix_alpha, prob=cfg.mixup_prob,
                               switch_prob=cfg.mixup_switch_prob, label_smoothing=cfg.label_smoothing,
                               num_classes=num_classes)
        self.criterion = SoftTargetCrossEntropy()
        self.num_updates = 0

    def step(self, x: torch.Tensor, y: torch.Tensor, boundary: bool = True) -> torch.Tensor:
        """Forward/backward of one micro-batch (uint8 images, int labels); an optimizer update on a boundary."""
        cfg, rt = self.cfg, self.rt
        x, y = self.norm(x), y.to(rt.device, non_blocking=True)
        if self.mixup is not None:  # on the device, after normalisation
            x, target = self.mixup(x, y)
        else:
            target = mixup_target(y, self.num_classes, smoothing=cfg.label_smoothing)
        ddp_skip_sync = not boundary and isinstance(self.model, DistributedDataParallel)
        with self.model.no_sync() if ddp_skip_sync else contextlib.nullcontext():
            with rt.autocast():
                loss = self.criterion(self.model(x), target)
            self.scaler.scale(loss / cfg.grad_accum).backward()
        if boundary:
            if cfg.grad_clip > 0:
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(self.net.parameters(), cfg.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.optimizer.zero_grad(set_to_none=True)
            self.num_updates += 1
            self.scheduler.step_update(self.num_updates)
            if self.ema is not None:
                self.ema.update(self.net, step=self.num_updates)
        return loss.detach()

    def state_dict(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(), "ema": self.ema.state_dict() if self.ema else None,
                "num_updates": self.num_updates}

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        self.num_updates = state["num_updates"]


def wrap(net: torch.nn.Module, cfg: TrainConfig, rt: Runtime) -> torch.nn.Module:
    """DDP across processes, optionally torch.compile."""
    model = net
    if rt.d.enabled:
        model = DistributedDataParallel(net, device_ids=[rt.device.index] if rt.device.type == "cuda" else None)
    return torch.compile(model) if cfg.compile else model


def new_model(cfg: TrainConfig, rt: Runtime, num_classes: int) -> torch.nn.Module:
    net = model_lib.create(cfg, num_classes).to(rt.device)
    return net.to(memory_format=torch.channels_last) if rt.channels_last else net


# ---------------------------------------------------------------------------------------------- one fold
@dataclass
class FoldInputs:
    fold: int
    train_set: TrainSet
    val_clean: object  # ImageStore or uint8 array
    val_testlike: np.ndarray
    val_labels: np.ndarray  # local (remapped) labels
    num_classes: int  # K of this run (subset size for a specialist)
    meta: dict = field(default_factory=dict)  # saved into best.pt (class mapping, names)


@dataclass
class FoldResult:
    best_epoch: int
    clean_f1: float
    testlike_f1: float
    epochs_run: int
    train_time_s: float
    train_img_s: float
    eval_img_s: float
    stopped_early: bool
    metrics: pd.DataFrame


class CheckpointKeeper:
    """Best-so-far tracking, early stopping and the fold's checkpoints, in the spirit of timm's CheckpointSaver:
    best.pt (the weights judged best, EMA included) and last.pt (everything a resume needs, written every epoch)."""

    def __init__(self, cfg: TrainConfig, fold_dir: Path, meta: dict):
        self.cfg, self.meta = cfg, meta
        self.last_path, self.best_path = fold_dir / "last.pt", fold_dir / "best.pt"
        self.best, self.best_epoch, self.bad_epochs, self.stopped = -1.0, -1, 0, False
        self.rows: list[dict] = []
        self.train_time, self.next_epoch = 0.0, 0

    def resume(self, net: torch.nn.Module, recipe: Recipe, device, fold: int) -> bool:
        """Restore model, recipe and RNG states from last.pt; False when there is none."""
        if not self.last_path.exists():
            return False
        ck = load_checkpoint(self.last_path, device, f"delete it to restart fold {fold} from its first epoch")
        net.load_state_dict(ck["model"])
        recipe.load_state_dict(ck["recipe"])
        set_rng_state(ck["rng"])
        self.next_epoch = ck["epoch"] + 1
        self.best, self.best_epoch, self.bad_epochs = ck["best"], ck["best_epoch"], ck["bad_epochs"]
        self.stopped, self.rows, self.train_time = ck["stopped"], ck["metrics"], ck["train_time"]
        return True

    def update(self, row: dict, score: float) -> bool:
        """Record an epoch; True when it is the best so far (early stopping counts the others)."""
        self.rows.append(row)
        improved = score > self.best
        if improved:
            self.best, self.best_epoch, self.bad_epochs = score, row["epoch"], 0
        else:
            self.bad_epochs += 1
        self.stopped = self.cfg.patience > 0 and self.bad_epochs >= self.cfg.patience
        return improved

    def save(self, net: torch.nn.Module, recipe: Recipe, epoch: int, improved: bool, fold_dir: Path) -> None:
        ema = recipe.ema
        if improved:
            save_atomic({"model": net.state_dict(), "ema": ema.module.state_dict() if ema else None,
                         "epoch": epoch + 1, "score": self.best, "select_metric": self.cfg.select_metric,
                         "config": recipe_dict(self.cfg), **self.meta}, self.best_path)
        atomic_write_csv(self.metrics(), fold_dir / "metrics.csv")
        save_atomic({"model": net.state_dict(), "recipe": recipe.state_dict(), "rng": rng_state(),
                     "epoch": epoch, "best": self.best, "best_epoch": self.best_epoch,
                     "bad_epochs": self.bad_epochs, "stopped": self.stopped, "metrics": self.rows,
                     "train_time": self.train_time}, self.last_path)

    def metrics(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=METRIC_COLUMNS)

    def result(self) -> FoldResult:
        metrics = self.metrics()
        at_best = metrics[metrics["epoch"] == self.best_epoch].iloc[0]
        return FoldResult(best_epoch=self.best_epoch, clean_f1=float(at_best["clean_f1"]),
                          testlike_f1=float(at_best["testlike_f1"]), epochs_run=len(metrics),
                          train_time_s=self.train_time, train_img_s=float(metrics["train_img_s"].mean()),
                          eval_img_s=float(metrics["eval_img_s"].mean()),
                          stopped_early=bool(self.stopped and len(metrics) < self.cfg.epochs), metrics=metrics)


def _batch_size(cfg: TrainConfig, fi: FoldInputs, d: dist.Dist) -> int:
    """Per-process batch; mixup pairs images, so it must be even and at least 2."""
    n_rank = -(-len(fi.train_set) // d.world)
    batch = min(cfg.batch_size, n_rank - n_rank % 2)
    if batch < 2:
        raise DlClsError(f"fold {fi.fold}: only {len(fi.train_set)} training images; need at least 2 per process")
    if batch != cfg.batch_size and d.main:
        print(f"fold {fi.fold}: batch_size {cfg.batch_size} > {n_rank} images per process; using {batch}")
    return batch


def train_one_epoch(recipe: Recipe, train_dl: DataLoader, rt: Runtime, desc: str) -> tuple[float, float, float]:
    """One pass over the fold's training images: (mean loss over processes, images/s, seconds)."""
    cfg, d, steps = recipe.cfg, rt.d, len(train_dl)
    recipe.model.train()
    t0 = time.perf_counter()
    loss_sum, loss_n, seen = torch.zeros((), device=rt.device), 0, 0
    bar = tqdm(train_dl, desc=desc, disable=not rt.show, leave=False)
    for step, (x, y, _) in enumerate(bar):
        loss_sum += recipe.step(x, y, boundary=(step + 1) % cfg.grad_accum == 0 or step + 1 == steps)
        loss_n += 1
        seen += len(x)
        if step % 10 == 0:
            bar.set_postfix(loss=f"{float(loss_sum) / loss_n:.3f}")
    if rt.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    train_loss = float(np.mean(dist.gather(d, float(loss_sum) / max(1, loss_n))))
    img_s = sum(dist.gather(d, seen)) / max(max(dist.gather(d, seconds)), 1e-9)
    return train_loss, img_s, seconds


def evaluate(judge: torch.nn.Module, fi: FoldInputs, rt: Runtime, norm: Normalizer, batch_size: int) -> dict:
    """Macro F1 on the fold's clean and test-like validation images (one view each) and eval speed."""
    p_clean, r1 = predict(judge, fi.val_clean, rt, norm, batch_size, [(0, False)], "val clean")
    p_tl, r2 = predict(judge, fi.val_testlike, rt, norm, batch_size, [(0, False)], "val test-like")
    return {"clean_f1": macro_f1(fi.val_labels, p_clean.argmax(1)),
            "testlike_f1": macro_f1(fi.val_labels, p_tl.argmax(1)), "eval_img_s": (r1 + r2) / 2}


def _log_epoch(k: int, cfg: TrainConfig, row: dict, improved: bool, stopped: bool, tb) -> None:
    print(f"fold {k} epoch {row['epoch']:>3}/{cfg.epochs}  lr {row['lr']:.2e}  loss {row['train_loss']:.4f}  "
          f"clean F1 {row['clean_f1']:.4f}  test-like F1 {row['testlike_f1']:.4f}  train {row['train_img_s']:.0f} "
          f"img/s  eval {row['eval_img_s']:.0f} img/s{'  *' if improved else ''}{'  (early stop)' if stopped else ''}",
          flush=True)
    if tb is not None:
        for key, value in row.items():
            if key != "epoch":
                tb.add_scalar(key, value, row["epoch"])


def train_fold(cfg: TrainConfig, rt: Runtime, fi: FoldInputs, fold_dir: Path) -> FoldResult:
    """Train one fold (or finish it from last.pt): train_one_epoch + evaluate per epoch, the keeper decides."""
    d, k = rt.d, fi.fold
    seed_everything(cfg.seed, k)
    net = new_model(cfg, rt, fi.num_classes)
    sampler = SeededSampler(len(fi.train_set), cfg.seed * 1000 + k, d.rank, d.world)
    train_dl = loader(fi.train_set, rt, _batch_size(cfg, fi, d), sampler, drop_last=True)
    recipe = Recipe(cfg, rt, net, wrap(net, cfg, rt), fi.num_classes, -(-len(train_dl) // cfg.grad_accum))
    keeper = CheckpointKeeper(cfg, fold_dir, fi.meta)
    if keeper.resume(net, recipe, rt.device, k) and d.main:
        print(f"fold {k}: resuming after epoch {keeper.next_epoch} (best {cfg.select_metric} F1 {keeper.best:.4f})")
    eval_bs = cfg.eval_batch_size or 2 * cfg.batch_size
    tb = _tensorboard(cfg, fold_dir) if d.main else None
    epoch = keeper.next_epoch
    while epoch < cfg.epochs and not keeper.stopped:
        seed_everything(cfg.seed, k, epoch)
        sampler.set_epoch(epoch)
        t0 = time.perf_counter()
        loss, img_s, seconds = train_one_epoch(recipe, train_dl, rt, f"fold {k} epoch {epoch + 1}/{cfg.epochs}")
        keeper.train_time += seconds
        recipe.scheduler.step(epoch + 1)
        scores = evaluate(recipe.ema.module if recipe.ema is not None else net, fi, rt, recipe.norm, eval_bs)
        row = dict(epoch=epoch + 1, lr=recipe.optimizer.param_groups[0]["lr"], train_loss=loss,
                   clean_f1=scores["clean_f1"], testlike_f1=scores["testlike_f1"], train_img_s=img_s,
                   eval_img_s=scores["eval_img_s"], epoch_s=time.perf_counter() - t0)
        improved = keeper.update(row, scores["testlike_f1" if cfg.select_metric == "testlike" else "clean_f1"])
        if d.main:
            _log_epoch(k, cfg, row, improved, keeper.stopped, tb)
            keeper.save(net, recipe, epoch, improved, fold_dir)
        dist.barrier(d)
        epoch += 1
    if tb is not None:
        tb.close()
    return keeper.result()


def _tensorboard(cfg: TrainConfig, fold_dir: Path):
    if not cfg.tensorboard:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise DlClsError("tensorboard=true needs the tensorboard package: pip install tensorboard") from None
    return SummaryWriter(str(fold_dir / "tb"))


def load_checkpoint(path: Path, device, remedy: str) -> dict:
    """torch.load with one clear line for a truncated or corrupt file (a kill during a copy, a full disk)."""
    try:
        return torch.load(path, map_location=device, weights_only=False)
    except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError, EOFError, UnpicklingError...
        raise DlClsError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {_first_words(str(exc))}); "
                         f"{remedy}") from None


def _first_words(text: str, limit: int = 120) -> str:
    """torch's message, its first line cut at a word boundary (never mid-word)."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[:limit].rsplit(" ", 1)[0] + " ..."


def load_fold_model(cfg: TrainConfig, best_path: Path, num_classes: int, device: torch.device,
                    channels_last: bool = False) -> torch.nn.Module:
    """A fold's best weights (EMA when it was trained with EMA: those are the weights it was judged on)."""
    ck = load_checkpoint(best_path, "cpu", "retrain that fold (delete its fold dir, then --resume)")
    net = model_lib.create(cfg, num_classes, pretrained=False)
    net.load_state_dict(ck["ema"] if ck.get("ema") is not None else ck["model"])
    net = net.to(device).eval()
    return net.to(memory_format=torch.channels_last) if channels_last else net
