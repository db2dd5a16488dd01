"""`dl-cls augment`: offline augmentation into WORK/aug/<preset>_x<scale>_s<seed>[...]/ (see generate.py)."""
from __future__ import annotations

import os
from pathlib import Path

from dl_cls.core.cli_options import add_data, add_label_fixes, add_work
from dl_cls.core.errors import DlClsError
from dl_cls.core.io import data_key


def add_arguments(parser) -> None:
    parser.add_argument("--scale", type=int, help="outputs per train image (copy 0 = the original, resized)")
    parser.add_argument("--preset", default="doc", help="configs/augment/<name>.yaml or a YAML path (default doc)")
    parser.add_argument("--size", type=int, default=512,
                        help="long side in px the images are scaled down to BEFORE augmenting (default 512; 0 keeps "
                             "the original size). Ops cost ~ pixels, and training resizes to <= 512 anyway")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all CPU cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--balance", action="store_true",
                        help="equal per-class totals: every class gets SCALE x (largest class size) images")
    parser.add_argument("--oversample", default=None, metavar="C=F,...",
                        help="multiply class C's outputs by F, e.g. 3=2,4=2,7=2,14=2")
    parser.add_argument("--pseudo", default=None, metavar="SET",
                        help="also make SCALE outputs of each image of a pseudo-label set (dl-cls pseudo): a name "
                             "under WORK/pseudo, a path, or 'current' (this data dir's current set); default none")
    add_data(parser)
    add_work(parser)
    parser.add_argument("--out", default=None, help="output dir (default WORK/aug/<preset>_x<scale>_s<seed>...)")
    add_label_fixes(parser)
    parser.add_argument("--list", metavar="PRESET", default=None, help="print a preset's ops and probabilities")
    parser.add_argument("--preview", metavar="PRESET", default=None,
                        help="write a contact sheet PNG (originals + augmented copies) instead of generating")
    parser.add_argument("--n", type=int, default=8, help="--preview: number of source images (rows)")
    parser.add_argument("--copies", type=int, default=4, help="--preview: augmented copies per row")
    parser.add_argument("--tile", type=int, default=200, help="--preview: tile size in px (default 200)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _label_fixes(value):
    return None if value is None or str(value).lower() == "none" else value


def _check_preview_out(out: Path) -> None:
    """--preview --out FILE: an image file name that does not exist yet (a file of the user's is never replaced;
    the default WORK/aug/preview_<preset>.png is dl_cls's own and is)."""
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise DlClsError(f"--out {out}: the preview is an image; give a .png or .jpg file name")
    if out.exists() or out.is_symlink():
        raise DlClsError(f"--out {out} already exists; it is never overwritten (pass another --out)")


def _check_preview_counts(args) -> None:
    """Counts that would make no sheet (or a traceback deep in the drawing) are refused before any work."""
    for flag, value, low in (("--n", args.n, 1), ("--copies", args.copies, 1), ("--tile", args.tile, 16)):
        if value < low:
            raise DlClsError(f"{flag} must be >= {low}, got {value}")


def run(args) -> int:
    from dl_cls.augment.preset import format_preset, load_preset

    if args.list:
        print(format_preset(load_preset(args.list, build=False)))
        return 0

    from dl_cls.data.contract import load_data

    if args.preview:
        from dl_cls.augment.preview import preview_sheet
        from dl_cls.imaging.viz import save_png

        _check_preview_counts(args)
        preset = load_preset(args.preview)
        if args.out:
            _check_preview_out(Path(args.out))
        dd = load_data(args.data, label_fixes=_label_fixes(args.label_fixes))
        sheet = preview_sheet(dd, preset, n=args.n, copies=args.copies, seed=args.seed, size=args.size,
                             tile=args.tile)
        out = Path(args.out) if args.out else Path(args.work) / "aug" / f"preview_{preset.name}.png"
        save_png(out, sheet)
        print(f"preview: {out} ({sheet.shape[1]}x{sheet.shape[0]})")
        return 0

    from dl_cls.augment.generate import AugSettings, parse_oversample, run_augment

    if args.scale is None:
        raise DlClsError("--scale is required (outputs per train image, e.g. --scale 10)")
    if args.size < 0:
        raise DlClsError(f"--size must be >= 0, got {args.size}")
    if args.workers is not None and args.workers < 1:
        raise DlClsError(f"--workers must be >= 1, got {args.workers}")
    settings = AugSettings(preset=args.preset, scale=args.scale, seed=args.seed, size=args.size,
                           balance=args.balance, oversample=parse_oversample(args.oversample))
    preset = load_preset(args.preset)  # bad presets fail here, before any data is touched
    dd = load_data(args.data, label_fixes=_label_fixes(args.label_fixes))
    settings.pseudo = _pseudo_set(args.pseudo, args.work, dd)
    out = Path(args.out) if args.out else Path(args.work) / "aug" / settings.dir_name(preset.name)
    run_augment(dd, preset, settings, out, workers=args.workers or os.cpu_count(), progress=not args.no_progress)
    _record_current(args.work, dd, out, settings, preset.name)
    return 0


def _pseudo_set(value: str | None, work, dd):
    """--pseudo: None, or the checked pseudo set (made for this data dir)."""
    if value is None or value.lower() == "none":
        return None
    from dl_cls.artifacts import pseudosets

    if value.lower() == "current":
        path = pseudosets.current_dir(work, dd.root)
        if path is None:
            raise DlClsError(f"--pseudo current: no pseudo set recorded for {data_key(dd.root)} in "
                             f"{pseudosets.pointer_path(work)}; run `make pseudo` first")
    else:
        path = pseudosets.resolve(value, work)
    return pseudosets.load(path, dd.root)


def _record_current(work, dd, out: Path, settings, preset_name: str) -> None:
    """The set is complete (manifest.csv written): make it the one `dl-cls train` uses for this data dir."""
    from dl_cls.artifacts.augsets import record_current

    pointer = record_current(work, dd.root, out, dd.train, {"preset": preset_name, "scale": settings.scale,
                                                            "seed": settings.seed, "size": settings.size})
    print(f"current augment set of {data_key(dd.root)}: {out} (recorded in {pointer}); "
          "`make train MODEL=...` trains on it unless given AUG=DIR or AUG=none")
