"""Training images/s: the full input pipeline against the model alone on random tensors (the upper bound).

Both sides run the trainer's own Recipe.step (normalise on the device, Mixup, AMP when on, backward, clip, AdamW,
EMA); only where the batches come from differs:
  model alone      one random uint8 batch, reused
  pipeline cached  augmented JPEGs decoded + resized once (the trainer's default when they fit in RAM), then the
                   trainer's TrainSet/SeededSampler/DataLoader with the online light augmentation
  pipeline disk    the same, but every image is decoded from disk at every step (cache_images=false)
The ratio pipeline / model alone is the figure of merit (target >= 0.90). Rates are measured in one run, on one
machine, so ratios compare like with like.

    python bench/train_speed.py                     # tiny on CPU
    python bench/train_speed.py --models swin_base convnext_base   # on a GPU (AMP, channels_last)
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from dl_cls.core.io import write_image  # noqa: E402
from dl_cls.train import dist, loop  # noqa: E402
from dl_cls.train.config import load_train_config  # noqa: E402
from dl_cls.train.data import ImageStore, SeededSampler, TrainSet, online_transform, want_cache  # noqa: E402


def fake_aug_set(folder: Path, n: int, size: int) -> list[str]:
    """n page-like JPEGs (long side `size`, like an augment set), written once."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        img = np.full((size, size * 3 // 4, 3), 235, np.uint8)
        for _ in range(12):  # text-ish dark bars so JPEG decoding costs what a page costs
            y, x = rng.integers(0, size - 8), rng.integers(0, size * 3 // 4 - 60)
            img[y : y + 6, x : x + int(rng.integers(20, 60))] = rng.integers(0, 80)
        img = np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)
        path = folder / f"{i:05d}.jpg"
        write_image(path, img)
        paths.append(str(path))
    return paths


class Timer:
    """Images/s of one batch source through Recipe.step, accumulated over several interleaved rounds so that
    load from other processes hits every source alike."""

    def __init__(self, recipe: loop.Recipe, batches, device, clock):
        self.recipe, self.it, self.device, self.clock = recipe, iter(batches), device, clock
        self.seconds, self.images = 0.0, 0

    def run(self, n_steps: int, record: bool = True) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        t0, seen = self.clock(), 0
        for _ in range(n_steps):
            x, y = next(self.it)[:2]
            loss = self.recipe.step(x, y)
            seen += len(x)
        float(loss)  # wait for the device
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        if record:
            self.seconds += self.clock() - t0
            self.images += seen

    @property
    def rate(self) -> float:
        return self.images / self.seconds


def forever(dl):
    while True:
        yield from dl


def bench(model: str, n_images: int, steps: int, rounds: int, src_size: int, overrides: list[str], workers: int | None,
          cpu_time: bool) -> None:
    cfg = load_train_config(model, ["pretrained=false", *overrides])
    d = dist.Dist(device=torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu"))
    rt = loop.make_runtime(cfg, d, cached=want_cache(cfg, n_images))
    rt.show = False
    if workers is not None:
        rt.num_workers = workers
    clock = time.perf_counter
    if cpu_time:  # CPU seconds of this one process: what the work costs, whatever else shares the machine
        torch.set_num_threads(1)
        rt.num_workers, clock = 0, time.process_time
    K, B = 17, cfg.batch_size
    net = loop.new_model(cfg, rt, K)
    recipe = loop.Recipe(cfg, rt, net, loop.wrap(net, cfg, rt), K, updates_per_epoch=1000)
    net.train()

    x = torch.randint(0, 256, (B, 3, cfg.img_size, cfg.img_size), dtype=torch.uint8)
    y = torch.randint(0, K, (B,))
    timers = {"model alone (random uint8 batch)": Timer(recipe, forever([(x, y)]), rt.device, clock)}

    with tempfile.TemporaryDirectory() as tmp:
        paths = fake_aug_set(Path(tmp), n_images, src_size)
        labels = np.random.default_rng(1).integers(0, K, len(paths))
        transform = online_transform(cfg.online_aug, has_aug_dir=True)
        notes = {}
        for cached in (True, False):
            t0 = time.perf_counter()
            store = ImageStore(paths, cfg.img_size, cache=cached)
            decode_s = time.perf_counter() - t0
            workers = rt.num_workers if cached or cpu_time else max(rt.num_workers, min(2, os.cpu_count() or 1))
            rt_case = loop.Runtime(rt.d, rt.amp_dtype, rt.channels_last, workers, show=False)
            dl = loop.loader(TrainSet(store, np.arange(len(paths)), labels, transform), rt_case, B,
                             SeededSampler(len(paths), 0, 0, 1), True)
            label = "pipeline, image cache" if cached else "pipeline, decode every step"
            timers[label] = Timer(recipe, forever(dl), rt.device, clock)
            notes[label] = f"   workers={workers}" + (f"   (cache built once in {decode_s:.1f} s)" if cached else "")
        for t in timers.values():
            t.run(3, record=False)  # warm-up: allocator, cuDNN autotune, worker start
        for _ in range(rounds):
            for t in timers.values():
                t.run(steps)
        alone = timers["model alone (random uint8 batch)"].rate
        lines = [f"  {label:<33}  {t.rate:8.1f} img/s   {t.rate / alone:.2f}{notes.get(label, '')}"
                 for label, t in timers.items()]
        del timers
    dev = torch.cuda.get_device_name(0) if rt.device.type == "cuda" else f"CPU x{os.cpu_count()} (torch threads {torch.get_num_threads()})"
    amp = {None: "off", torch.bfloat16: "bf16", torch.float16: "fp16"}[rt.amp_dtype]
    print(f"\n{model} ({cfg.timm_name}, {cfg.img_size} px, batch {B}, amp {amp}, channels_last {rt.channels_last}) "
          f"on {dev}; {n_images} fake augmented JPEGs at {src_size} px; {rounds} interleaved rounds of {steps} "
          f"steps per source")
    print(f"  {'source':<33}  {'rate':>14}   ratio to model alone"
          f"{'   (CPU time of one process, 1 torch thread, no workers)' if cpu_time else ''}")
    print("\n".join(lines))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=None, help="default: tiny on CPU; swin_base convnext_base on GPU")
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--steps", type=int, default=5, help="steps per source per round")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--src-size", type=int, default=320, help="long side of the fake augmented JPEGs")
    ap.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: the trainer's auto)")
    ap.add_argument("--cpu-time", action="store_true", help="rates from the process's CPU time with one torch "
                    "thread and no workers: robust when other jobs share the CPU")
    ap.add_argument("overrides", nargs="*", help="config overrides, e.g. batch_size=64")
    args = ap.parse_args()
    models = args.models or (["swin_base", "convnext_base"] if torch.cuda.is_available() else ["tiny"])
    for m in models:
        bench(m, args.images, args.steps, args.rounds, args.src_size, args.overrides, args.workers, args.cpu_time)
    if not torch.cuda.is_available() and args.models is None:
        print("\nswin_base / convnext_base: not measured (no GPU on this machine)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
