"""Speed of the `doc` preset vs augraphy's default_augraphy_pipeline(), side by side in one run, one core.

    .venv/bin/python bench/augment_speed.py                 # synthetic ~500x600 JPEG pages
    .venv/bin/python bench/augment_speed.py --data DATA     # the first --n train images of a data dir
    .venv/bin/python bench/augment_speed.py --draws 1000    # + every kept augraphy effect 1000x (survival)

Both sides do what an offline run does per image: decode the JPEG, augment, encode JPEG q95. Ours resizes to
the working size (512) first, as `dl-cls augment` does; the baseline runs on the full image, as teams did.
Times are CPU seconds of this (single-threaded) process, so images/s are per core and other load on the
machine does not skew the ratio. The baseline is capped (--baseline-n images, --cap seconds per image via SIGALRM): a capped image counts as
`cap` seconds (wall), which flatters the baseline, so the printed ratio is a lower bound.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
import warnings
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"  # one core: images/s printed here are per core
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from dl_cls.augment.ops import apply_ops, derive_seed  # noqa: E402
from dl_cls.augment.preset import load_preset  # noqa: E402
from dl_cls.augment.worker import pin_threads, resize_long_side  # noqa: E402
from dl_cls.core.io import encode_image, read_image  # noqa: E402


def synthetic_pages(out: Path, n: int, h: int = 600, w: int = 500) -> list[Path]:
    """Competition-like document photos: tinted paper, header box, table, lines of text, a stamp; JPEG q90."""
    paths = []
    for i in range(n):
        rng = np.random.default_rng(i)
        img = np.full((h, w, 3), rng.integers(225, 250, 3), np.uint8)
        cv2.rectangle(img, (30, 30), (w - 30, 90), (40, 40, 40), 2)
        cv2.putText(img, "FORM " + str(i), (50, 72), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (20, 20, 20), 2, cv2.LINE_AA)
        y = 120
        while y < h - 40:
            x = 40
            while x < w - 80:
                word = "".join(chr(int(c)) for c in rng.integers(65, 90, int(rng.integers(2, 9))))
                cv2.putText(img, word, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (25, 25, 25), 1, cv2.LINE_AA)
                x += 11 * len(word) + 10
            y += int(rng.integers(18, 28))
        if i % 2:
            for r in range(5):
                cv2.line(img, (40, 300 + 30 * r), (w - 40, 300 + 30 * r), (60, 60, 60), 1)
        cv2.circle(img, (w - 90, h - 90), 40, (30, 30, 200), 3)
        p = out / f"page_{i:03d}.jpg"
        cv2.imwrite(str(p), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(p)
    return paths


class _Cap(Exception):
    pass


def _alarm(signum, frame):
    raise _Cap()


def bench_ours(paths, preset, size, rounds):
    t0 = time.process_time()
    n = 0
    for r in range(rounds):
        for p in paths:
            img = resize_long_side(read_image(p), size)
            out, _, _ = apply_ops(preset.ops, img, derive_seed(0, p.name, r + 1), preset.budget_ms)
            encode_image(out, ".jpg", 95)
            n += 1
    return n, time.process_time() - t0


def bench_baseline(paths, n_images, cap):
    from augraphy import default_augraphy_pipeline

    import random

    signal.signal(signal.SIGALRM, _alarm)
    total, capped, failed = 0.0, 0, 0
    paths = [Path(p).resolve() for p in paths[:n_images]]
    # AugraphyPipeline writes each output into ./augraphy_cache/: keep that out of the caller's directory
    cwd = os.getcwd()
    os.chdir(tempfile.mkdtemp(prefix="augraphy_cache_"))
    try:
        for i, p in enumerate(paths):
            random.seed(i)
            np.random.seed(i)
            pipe = default_augraphy_pipeline()
            c0 = time.process_time()
            signal.setitimer(signal.ITIMER_REAL, cap)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out = pipe(read_image(p))
                encode_image(np.asarray(out if not isinstance(out, (list, tuple)) else out[0]), ".jpg", 95)
                dt = time.process_time() - c0
            except _Cap:
                dt, capped = cap, capped + 1
            except Exception:
                dt, failed = time.process_time() - c0, failed + 1
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            total += min(dt, cap)
    finally:
        os.chdir(cwd)
    return n_images, total, capped, failed


def survival(preset_names, draws, h=600, w=500, size=512):
    page = resize_long_side(read_image(synthetic_pages(Path(tempfile.mkdtemp()), 1, h, w)[0]), size)
    seen = set()
    print(f"\nsurvival: each kept augraphy effect x{draws} random draws on a {page.shape[1]}x{page.shape[0]} page")
    worst = 0
    for name in preset_names:
        for op in load_preset(name).ops:
            if not op.op.startswith("augraphy.") or op.op in seen:
                continue
            seen.add(op.op)
            fails, times = 0, []
            for s in range(draws):
                t0 = time.process_time()
                try:
                    op(page, s, None)
                except Exception:
                    fails += 1
                times.append(time.process_time() - t0)
            worst += fails
            print(f"  {op.op:<30} failed {fails:4d}/{draws}  mean {1000 * np.mean(times):6.1f} ms"
                  f"  max {1000 * np.max(times):7.1f} ms")
    print(f"survival: {worst} failures in total")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="data dir: use its train images instead of synthetic pages")
    ap.add_argument("--n", type=int, default=40, help="images for our pipeline (default 40)")
    ap.add_argument("--rounds", type=int, default=3, help="copies per image for our pipeline (default 3)")
    ap.add_argument("--baseline-n", type=int, default=40, help="images for the augraphy baseline (default 40)")
    ap.add_argument("--cap", type=float, default=30.0, help="per-image cap for the baseline, seconds (default 30)")
    ap.add_argument("--preset", default="doc")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--draws", type=int, default=0, help="survival draws per kept augraphy effect (e.g. 1000)")
    args = ap.parse_args()

    pin_threads()
    if args.data:
        from dl_cls.data.contract import load_data

        dd = load_data(args.data, label_fixes=None)
        paths = [dd.train_path(i) for i in dd.train["ID"][: args.n]]
    else:
        paths = synthetic_pages(Path(tempfile.mkdtemp(prefix="augbench_")), args.n)
    shapes = {read_image(p).shape[:2] for p in paths[:5]}
    print(f"images: {len(paths)} ({'data ' + args.data if args.data else 'synthetic'}), e.g. HxW {sorted(shapes)[:3]}")
    preset = load_preset(args.preset)
    bench_ours(paths[:3], preset, args.size, 1)  # warm-up: numba JIT/cache load, imports
    n, dt = bench_ours(paths, preset, args.size, args.rounds)
    ours = n / dt
    print(f"ours  ({args.preset}, resize to {args.size}): {n} images in {dt:.1f} s -> {ours:.1f} images/s per core")
    bn, bt, capped, failed = bench_baseline(paths, min(args.baseline_n, len(paths)), args.cap)
    base = bn / bt
    print(f"augraphy default_augraphy_pipeline() (full size): {bn} images in {bt:.1f} s -> {base:.2f} images/s per core"
          f" ({capped} capped at {args.cap:g} s, {failed} raised)")
    print(f"ratio ours / default_augraphy_pipeline: {ours / base:.1f}x  (targets: >= 30 images/s per core, >= 15x)")
    if args.draws:
        survival(["doc", "heavy"], args.draws)
    return 0


if __name__ == "__main__":
    sys.exit(main())
