"""`dl-cls profile DIR [DIR...]`: the image statistics of folders side by side; `--fit TEST_DIR` proposes a
test-like corruption config from unlabelled test images."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pandas as pd
import yaml

from dl_cls.core.config import config_to_dict
from dl_cls.core.errors import DlClsError
from dl_cls.core.io import atomic_write_csv, atomic_write_text, file_sha256
from dl_cls.imaging.testlike import DEFAULT_CONFIG, load_testlike_config
from dl_cls.profile.collect import frame_matches, list_images, measure_folder
from dl_cls.profile.table import format_table, side_by_side, summarise

JPEG_QUALITY = 95  # assumed for a JPEG test set (its real quality is not read from the files)
MARKER = ".dl_cls_profile"  # written into --out, so a later run only ever replaces a profile dir it made


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dirs", nargs="*", metavar="DIR", help="image folders to compare (the first is the reference)")
    p.add_argument("--fit", metavar="TEST_DIR", help="propose a test-like config from these unlabelled test images "
                   "(needs a clean reference DIR, e.g. train/); written to OUT/testlike.yaml")
    p.add_argument("--out", help="write profile.csv, per-image stats_<folder>.csv and hist_<stat>.png here")
    p.add_argument("--reference", help="folder whose frame sizes count as 'train sizes' (default: the first DIR)")
    p.add_argument("--pose-model", metavar="RUN", help="with --fit: an orientation run dir (WORK/runs/orient-*, made "
                   "by dl-cls orient or dl-cls ocr): its picks on the test images set the copies' turns and "
                   "mirroring (else kept from the base config: mirroring cannot be measured without it)")
    p.add_argument("--base", help="test-like config the fit starts from (default configs/testlike/default.yaml)")
    p.add_argument("--testlike", nargs="?", const="default", metavar="CONFIG",
                   help="add a column: the reference images after the test-like corruption of CONFIG "
                   "(default configs/testlike/default.yaml), to compare with the real test set")
    p.add_argument("--limit", type=int, default=400, help="measure a seeded sample of this many images per folder "
                   "(0 = all; default 400)")
    p.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1))
    p.add_argument("--seed", type=int, default=0)


def _names(dirs: list[Path]) -> list[str]:
    """Column names: parent/name (sample/train vs sample/test), made unique."""
    names = []
    for d in dirs:
        base = f"{d.resolve().parent.name}/{d.name}"
        name, i = base, 2
        while name in names:
            name, i = f"{base}#{i}", i + 1
        names.append(name)
    return names


def _written_hashes(out: Path) -> dict:
    """{file name: sha256} of the hand-editable files the last profile wrote into out (its marker's content)."""
    try:
        data = json.loads((out / MARKER).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _prepare_out(out: Path, fit: bool) -> None:
    """Refuse a non-empty folder that an earlier profile did not make (we never overwrite others' files), and
    with --fit a testlike.yaml the user edited since (the README asks them to review and edit it)."""
    if out.exists() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise DlClsError(f"{out} exists, is not empty and was not made by dl-cls profile; pick another --out")
    fitted = out / "testlike.yaml"
    if fit and fitted.is_file() and _written_hashes(out).get(fitted.name) != file_sha256(fitted):
        raise DlClsError(f"{fitted} was edited since dl-cls profile --fit wrote it (or not written by it); "
                         "refusing to overwrite it: move it away or pick another --out")
    written = _written_hashes(out)
    edited = sorted(n for n, h in written.items() if (out / n).is_file() and file_sha256(out / n) != h)
    if edited:  # profile.csv, stats_*.csv opened in a spreadsheet and saved: the user's now
        raise DlClsError(f"{out / edited[0]} was edited since dl-cls profile wrote it ({len(edited)} such file(s)); "
                         "refusing to overwrite it: move it away or pick another --out")
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).touch()


def _record_written(out: Path, paths: list[Path]) -> None:
    """Add the hashes of files just written to the marker: a later run replaces them only while unedited."""
    hashes = {**_written_hashes(out), **{p.name: file_sha256(p) for p in paths}}
    atomic_write_text(out / MARKER, json.dumps(hashes, sort_keys=True) + "\n")


def _check_args(args):
    dirs = [Path(d) for d in args.dirs]
    fit = Path(args.fit) if args.fit else None
    if fit and fit not in dirs:
        dirs.append(fit)
    if not dirs:
        raise DlClsError("give at least one image folder (dl-cls profile DIR [DIR...])")
    ref = Path(args.reference) if args.reference else dirs[0]
    if fit and (ref == fit or not args.out):
        raise DlClsError("--fit needs a clean reference folder (give train/ first or --reference) and --out")
    if args.limit < 0:
        raise DlClsError(f"--limit must be >= 0 (0 = all images), got {args.limit}")
    for d in dirs + [ref]:
        list_images(d, 1)  # fail before any work: missing folder, no images
    base = load_testlike_config(args.base)  # a typo in the base config fails here too
    if args.pose_model:
        if not fit:
            raise DlClsError("--pose-model goes with --fit (it sets the fitted copies' turns and mirroring)")
        from dl_cls.pose.model import load_orientation

        load_orientation(args.pose_model)  # not an orientation run, or a damaged model: named before any work
    if args.testlike:
        args.testlike = str(DEFAULT_CONFIG if args.testlike == "default" else Path(args.testlike))
        load_testlike_config(args.testlike)
    return dirs, fit, ref, base


def run(args) -> int:
    dirs, fit, ref, base = _check_args(args)
    out = Path(args.out) if args.out else None
    if out:
        _prepare_out(out, fit is not None)
    limit = args.limit or None
    names = _names(dirs)
    data = {n: measure_folder(d, args.workers, limit, args.seed) for n, d in zip(names, dirs)}
    ref_name = names[dirs.index(ref)] if ref in dirs else None
    ref_df = data[ref_name] if ref_name else measure_folder(ref, args.workers, limit, args.seed)
    if args.testlike:
        name = f"test-like {Path(args.testlike).stem} of {_names([ref])[0]}"
        data[name] = measure_folder(ref, args.workers, limit, args.seed, testlike=args.testlike)
    for n, d in data.items():
        d["frame_match"] = frame_matches(d, ref_df, same=n == ref_name)
    summary = summarise(data)
    print(format_table(side_by_side(summary)))
    print(f"(frame sizes compared with {ref}; {', '.join(f'{n}: {len(d)} images' for n, d in data.items())})")
    if out:
        _write_outputs(out, data, summary)
    if fit:
        _fit(args, fit, ref, data[names[dirs.index(fit)]], ref_df, base, out)
    return 0


def _write_outputs(out: Path, data: dict[str, pd.DataFrame], summary: pd.DataFrame) -> None:
    from dl_cls.profile.plots import save_histograms  # matplotlib only when plots are wanted

    written = [out / "profile.csv"]
    atomic_write_csv(summary, written[0], float_format="%.4g")
    for n, d in data.items():
        safe = "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in n)
        written.append(out / f"stats_{safe}.csv")
        atomic_write_csv(d, written[-1], float_format="%.5g")
    paths = save_histograms(data, out)
    _record_written(out, written + [Path(p) for p in paths])
    print(f"wrote {out / 'profile.csv'}, per-image stats_*.csv and {len(paths)} plots hist_*.png")


def _fit_poses(fitted, run, test_files) -> None:
    """The turns and mirroring of the fitted config from the pose model's picks on the test images (label-free)."""
    from dl_cls.pose.mix import pose_mix, with_pose_mix
    from dl_cls.pose.model import load_orientation, page_poses

    poses = page_poses(load_orientation(run), test_files)
    mix = pose_mix([o for o, _ in poses], [m for _, m in poses])
    fitted.config = with_pose_mix(fitted.config, mix)
    turns = "/".join(f"{t:.0%}" for t in mix["turns"])
    fitted.notes = [n for n in fitted.notes if n[0] != "turn_p"]
    fitted.notes.append(("turn_p, flip_h_p", f"{fitted.config.turn_p}, {fitted.config.flip_h_p}",
                         f"pose model on {mix['pages']} test images: turns 0/90/180/270 {turns}, "
                         f"mirrored {mix['mirrored']:.0%}"))


def _fit(args, fit: Path, ref: Path, test_df, ref_df, base, out: Path) -> None:
    from dl_cls.profile.fit import fit_config

    ref_paths = [str(p) for p in list_images(ref, args.limit or None, args.seed)]
    test_files = list_images(fit, args.limit or None, args.seed)
    n_jpeg = sum(p.suffix.lower() in (".jpg", ".jpeg") for p in test_files)
    jpeg = JPEG_QUALITY if 2 * n_jpeg > len(test_files) else None
    fitted = fit_config(test_df, ref_df, ref_paths, base, jpeg=jpeg)
    if args.pose_model:
        _fit_poses(fitted, args.pose_model, test_files)
    width = max(len(p) for p, _, _ in fitted.notes)
    print(f"\nproposed test-like parameters for {fit} (reference {ref}):")
    for param, value, why in fitted.notes:
        print(f"  {param:<{width}}  {value:<28}  from {why}")
    header = (f"# test-like corruption fitted by `dl-cls profile --fit {fit}` (reference {ref}).\n"
              "# Fitted: turn_p, rotate.skew_p/skew_sigma/skew_cap/expand_p/white_fill_p, lighting.grey_p/bias,\n"
              + ("# flip_h_p/flip_v_p (the pose model's picks on the test images),\n" if args.pose_model else "") +
              "# noise.std, blur.sigma. Kept from the base config (not measurable): the rest.\n"
              "# Review it, then check it: dl-cls profile TRAIN TEST --testlike THIS_FILE\n")
    path = out / "testlike.yaml"
    atomic_write_text(path, header + yaml.safe_dump(config_to_dict(fitted.config), sort_keys=False))
    _record_written(out, [path])
    print(f"wrote {path}")
